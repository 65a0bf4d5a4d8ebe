"""Cost per call of A/B assignment on the request path, against baselines in the same run.

    .venv/bin/python benchmarks/bench_assignment.py [--ids 100000] [--repeat 9]

Each timing loops over the same ``--ids`` distinct customer ids; the figure is the median over
``--repeat`` rounds, per call. Baseline: the bare loop calling a method that does nothing (the
floor any per-request call pays). Target: a few µs at most per call (issue 9).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from churnops.experiments.assignment import Assigner

TARGET_US = 5.0


class Baseline:
    def nothing(self, customer_id: str | None) -> None:
        return None


def per_call_us(call: Callable[[str | None], object], ids: list[str | None], repeat: int) -> float:
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for customer_id in ids:
            call(customer_id)
        rounds.append((time.perf_counter_ns() - start) / len(ids) / 1_000)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    ids: list[str | None] = [f"C{number:07d}" for number in range(args.ids)]
    no_ids: list[str | None] = [None] * args.ids
    assigner, baseline = Assigner("bench-experiment", 10), Baseline()
    rows = [
        ("loop + no-op method (floor)", per_call_us(baseline.nothing, ids, args.repeat)),
        ("Assigner.assign(customer id)", per_call_us(assigner.assign, ids, args.repeat)),
        ("Assigner.assign(None) (random)", per_call_us(assigner.assign, no_ids, args.repeat)),
    ]
    floor = rows[0][1]
    print(f"{'per call, median of ' + str(args.repeat) + ' rounds':<40} {'µs':>7} {'× floor':>8}")
    for name, micros in rows:
        print(f"{name:<40} {micros:7.3f} {micros / floor:8.1f}")
    worst = max(micros for _, micros in rows[1:])
    verdict = "met" if worst <= TARGET_US else "MISSED"
    print(f"target ≤ {TARGET_US:g} µs per assignment: {verdict} (worst {worst:.3f} µs)")


if __name__ == "__main__":
    main()
