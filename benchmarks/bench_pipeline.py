"""Core pipeline timings on this machine: generate and prepare 1,000,000 rows, and the whole
default (10,000-row) pipeline as a user runs it (`churnops pipeline`, a fresh process).

Targets (issue 2): generate 1M ≤ 5 s, prepare 1M ≤ 15 s, default pipeline ≤ 15 s.
Each figure is the median of --repeat runs, since the machine is shared and noisy.

    python benchmarks/bench_pipeline.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from churnops import workflow
from churnops.settings import load_settings

TARGETS = {"generate 1M rows": 5.0, "prepare 1M rows": 15.0, "default pipeline (CLI)": 15.0}


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        big = load_settings(home=Path(tmp) / "big", rows=1_000_000)
        results["generate 1M rows"] = timed(lambda: workflow.generate_step(big), args.repeat)
        results["prepare 1M rows"] = timed(lambda: workflow.prepare_step(big), args.repeat)
        runs = iter(range(args.repeat))

        def pipeline() -> None:
            home = Path(tmp) / f"default-{next(runs)}"
            command = [sys.executable, "-m", "churnops", "pipeline", "--home", str(home), "--json"]
            subprocess.run(command, check=True, capture_output=True)

        results["default pipeline (CLI)"] = timed(pipeline, args.repeat)
    print(f"{'stage':<26}{'median s':>10}{'min s':>8}{'max s':>8}{'target s':>10}  verdict")
    for name, times in results.items():
        median = statistics.median(times)
        verdict = "ok" if median <= TARGETS[name] else "SLOWER THAN TARGET"
        print(
            f"{name:<26}{median:>10.2f}{min(times):>8.2f}{max(times):>8.2f}"
            f"{TARGETS[name]:>10.1f}  {verdict}"
        )


if __name__ == "__main__":
    main()
