"""What an experiment costs ``/predict``: plain vs A/B at 50 % vs shadow, in the same run.

    .venv/bin/python benchmarks/bench_experiments.py [--home DIR] [--duration 10] [--rounds 3]

Needs ``wrk`` (Debian: ``apt-get install wrk``). Uses ``bench_api``'s project (v1 and v2, default
settings; trained unless ``--home`` has them) and its server and wrk machinery. Three copies of
the project are served at once, one uvicorn worker each (the HTTP protocol `churnops serve`
uses, logging on): one without an experiment, one running an A/B experiment (v1 challenges
v2 at 50 %), one a shadow experiment (v1 scores beside v2). wrk sends the seed example with a
new customer id per request (so A/B really splits customers), to each server in turn, for
``--rounds`` rounds; the figures are the median round and the median of the per-round ratios
to the plain server. Targets (issue 9): A/B costs at most 5 % of the throughput, shadow 15 %.

Then each server is stopped gracefully and its log checked: one row per answered prediction,
and in shadow mode every row with the challenger's score.

Where the shadow score is computed: the API scores it in the log writer's thread, batched
(``inference_log.ShadowJob``). To show what the request path would pay instead, the script
also times, in this process, one challenger call on a single encoded row (the in-request
alternative) against the per-row cost of the same call on a batch of 256 rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_api import (
    CONNECTIONS,
    GUARDED_HTTP,
    SEED_BODY,
    Server,
    WrkResult,
    metric_total,
    prepare_home,
    run_wrk,
    start,
    stop,
)

from churnops.registry.experiments import start_experiment
from churnops.serving.app import build_state
from churnops.serving.predictor import LoadedModel
from churnops.settings import Settings, load_settings

SETUPS = ("plain", "ab", "shadow")
TARGETS = {"ab": 0.05, "shadow": 0.15}
ID_MARK = "@ID@"
# A new customer id per request: "B" and a counter (wrk -t1: one Lua state, ids unique).
WRK_IDS = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local head, tail, counter = '{head}', '{tail}', 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, head .. string.format("B%08d", counter) .. tail)
end
"""


def wrk_script(folder: Path) -> Path:
    head, tail = json.dumps({**SEED_BODY, "customer_id": ID_MARK}).split(ID_MARK)
    script = folder / "ids.lua"
    script.write_text(WRK_IDS.format(head=head, tail=tail), encoding="utf-8")
    return script


def homes(source: Path, folder: Path) -> dict[str, Settings]:
    """A copy of ``source`` per setup (an experiment is registry state), the log emptied;
    v2 (current) is the champion and v1 the challenger."""
    found = {}
    for name in SETUPS:
        home = folder / name
        shutil.copytree(source, home, ignore=shutil.ignore_patterns("inference*.db*"))
        settings = load_settings(home=home)
        if name == "ab":
            start_experiment(settings, 1, "ab", 50.0, "benchmark")
        elif name == "shadow":
            start_experiment(settings, 1, "shadow", None, "benchmark")
        found[name] = settings
    return found


def throughput(
    servers: dict[str, Server], script: Path, duration: float, rounds: int
) -> dict[str, list[WrkResult]]:
    runs: dict[str, list[WrkResult]] = {name: [] for name in SETUPS}
    for _ in range(rounds):
        for name in SETUPS:
            runs[name].append(run_wrk(f"{servers[name].url}/predict", duration, script))
    return runs


def log_check(settings: Settings) -> tuple[int, int]:
    """Rows in the log, and rows with a shadow score."""
    conn = sqlite3.connect(settings.inference_db)
    try:
        query = "SELECT COUNT(*), COUNT(shadow_probability) FROM inference_log"
        rows, shadowed = conn.execute(query).fetchone()
        return int(rows), int(shadowed)
    finally:
        conn.close()


def per_call_us(call: Callable[[], object], repeat: int, calls: int) -> float:
    rounds = []
    for _ in range(repeat):
        began = time.perf_counter_ns()
        for _ in range(calls):
            call()
        rounds.append((time.perf_counter_ns() - began) / calls / 1_000)
    return statistics.median(rounds)


def shadow_costs(settings: Settings) -> tuple[float, float]:
    """µs of one challenger call on one encoded row (what scoring in the request would add),
    and µs per row of the same call on 256 rows (what the log writer pays)."""
    state = build_state(settings)
    state.predictor.refresh()
    serving = state.predictor.serving
    assert serving is not None and serving.experiment is not None
    challenger: LoadedModel = serving.experiment.challenger
    inputs = serving.champion.inputs
    one = inputs.encoder.encode_one(inputs.row(json.dumps(SEED_BODY).encode()))
    many = np.repeat(one, 256, axis=0)
    single = per_call_us(lambda: challenger.predict(one), repeat=7, calls=2_000)
    batched = per_call_us(lambda: challenger.predict(many), repeat=7, calls=50) / len(many)
    return single, batched


def report(runs: dict[str, list[WrkResult]], args: argparse.Namespace, home: Path) -> None:
    median = {n: sorted(r, key=lambda x: x.rps)[len(r) // 2] for n, r in runs.items()}
    print(f"\nwrk -t1 -c{CONNECTIONS} -d{args.duration:g}s, {args.rounds} rounds, one uvicorn")
    print(f"worker each, logging on, a new customer id per request ({home})")
    print(f"{'/predict':24} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>8}  cost")
    for name in SETUPS:
        result = median[name]
        ratios = [run.rps / plain.rps for run, plain in zip(runs[name], runs["plain"], strict=True)]
        cost = 1 - statistics.median(ratios)
        verdict = "" if name == "plain" else f"{cost:+.1%} (target ≤ {TARGETS[name]:.0%})"
        errors = sum(run.non_2xx + run.socket_errors for run in runs[name])
        print(
            f"{name:24} {result.rps:8.0f} {result.p50_ms:7.2f} {result.p99_ms:7.2f} "
            f"{errors:8d}  {verdict}"
        )
    print(f"all rounds req/s: { {n: [round(r.rps) for r in rs] for n, rs in runs.items()} }")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="project folder (default: a scratch folder)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    home = args.home or Path(tempfile.mkdtemp(prefix="churnops-bench-"))
    prepare_home(home)
    scratch = Path(tempfile.mkdtemp(prefix="churnops-bench-experiments-"))
    settings = homes(home, scratch)
    script = wrk_script(scratch)
    servers: dict[str, Server] = {}
    try:
        for name in SETUPS:
            servers[name] = start(name, "churnops.api:app", settings[name].home, http=GUARDED_HTTP)
        runs = throughput(servers, script, args.duration, args.rounds)
        answered = {
            name: metric_total(server.url, "churnops_predictions_total")
            for name, server in servers.items()
        }
        for name in SETUPS:
            stop(servers.pop(name))
    finally:
        for server in servers.values():
            server.process.kill()
            server.process.wait()
    report(runs, args, home)
    for name in SETUPS:
        rows, shadowed = log_check(settings[name])
        print(
            f"{name}: answered {answered[name]:,.0f} predictions, logged {rows:,} rows"
            + (f", {shadowed:,} with the challenger's shadow score" if name == "shadow" else "")
        )
    single, batched = shadow_costs(settings["shadow"])
    plain_us = 1e6 / statistics.median(run.rps for run in runs["plain"])
    print(
        f"challenger score of one row in the request: {single:.1f} µs per call "
        f"({single / plain_us:.1%} of a plain /predict at {plain_us:.0f} µs); in the log "
        f"writer, 256 rows per call: {batched:.1f} µs per row"
    )
    print(f"(the projects served, kept for inspection: {scratch})")


if __name__ == "__main__":
    main()
