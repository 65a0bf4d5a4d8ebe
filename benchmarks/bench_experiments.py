"""What an experiment costs ``/predict``: plain vs A/B at 50 % vs shadow, in the same run.

    .venv/bin/python benchmarks/bench_experiments.py [--home DIR] [--duration 10] [--rounds 3]

Needs ``wrk`` (Debian: ``apt-get install wrk``). Uses ``bench_api``'s project (v1 and v2,
default settings; trained unless ``--home`` has them) and its server and wrk machinery. Three
copies of the project are served at once, one uvicorn worker each (the HTTP protocol `churnops
serve` uses, logging on): one without an experiment, one running an A/B experiment (v1
challenges v2 at 50 %), one an A/B experiment at 0.01 % (every request is routed, marked and
logged as in A/B, but nearly all by the champion: the routing alone, without a second model
competing for the CPU caches), one a shadow experiment (v1 scores beside v2). wrk sends the
seed example with a new customer id per request (so A/B really splits customers), to each
server in turn, for ``--rounds`` rounds; the figures are medians over the rounds, and the cost
is the median of the per-round ratios to the plain server. Targets (issue 9): A/B costs at most
5 % of the throughput, shadow 15 %. Throughput on a shared machine swings with the neighbours'
load, so the cost is also given as the server process's CPU time per request (all its threads,
the log writer's shadow scoring included), which other processes' load barely moves.

Then each server is stopped gracefully and its log checked: one row per answered prediction,
and in shadow mode every row with the challenger's score.

The same setups' ``/predict`` handler is also timed in this process, called directly (no HTTP,
no server): the CPU the routing itself adds per request, the log writer's work included.

Where the shadow score is computed: the API scores it in the log writer's thread, batched
(``inference_log.ShadowJob``). To show what the request path would pay instead, the script
also times, in this process, one challenger call on a single encoded row (the in-request
alternative) against the per-row cost of the same call on a batch of 256 rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
from churnops.serving.app import app_for, build_state
from churnops.serving.middleware import REQUEST_ID, STARTED
from churnops.serving.predictor import LoadedModel
from churnops.settings import Settings, load_settings

SETUPS = ("plain", "ab", "ab-0.01", "shadow")
TARGETS = {"ab": 0.05, "ab-0.01": 0.05, "shadow": 0.15}
SHARES = {"ab": 50.0, "ab-0.01": 0.01}
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
        if name in SHARES:
            start_experiment(settings, 1, "ab", SHARES[name], "benchmark")
        elif name == "shadow":
            start_experiment(settings, 1, "shadow", None, "benchmark")
        found[name] = settings
    return found


@dataclass
class Round:
    wrk: WrkResult
    cpu_us: float  # the server process's CPU time (all threads) per request answered


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(
    servers: dict[str, Server], script: Path, duration: float, rounds: int
) -> dict[str, list[Round]]:
    runs: dict[str, list[Round]] = {name: [] for name in SETUPS}
    for _ in range(rounds):
        for name in SETUPS:
            server = servers[name]
            before = cpu_seconds(server.process.pid)
            result = run_wrk(f"{server.url}/predict", duration, script)
            spent = cpu_seconds(server.process.pid) - before
            runs[name].append(Round(result, spent / result.requests * 1e6))
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


class HandlerRequest:
    """What ``/predict``'s handler reads of a request: the scope the middleware fills."""

    def __init__(self) -> None:
        self.scope = {REQUEST_ID: "bench-1", STARTED: time.perf_counter()}


def handler_cpu_us(settings: dict[str, Settings], calls: int, rounds: int) -> dict[str, float]:
    """CPU µs (all threads: the log writer's inserts and shadow scoring included) per call of
    ``/predict``'s handler itself, called in this process without HTTP, per setup: the cost of
    routing without the server around it. Median over ``rounds`` alternations."""
    bodies = [json.dumps({**SEED_BODY, "customer_id": f"H{i:08d}"}).encode() for i in range(calls)]
    handlers = {}
    for name, one in settings.items():
        state = build_state(one)
        app = app_for(state)
        assert state.log is not None
        state.log.start()
        state.predictor.refresh()
        handler = next(r.endpoint for r in app.routes if getattr(r, "path", "") == "/predict")
        handlers[name] = (state.log, handler)

    async def call_all(handler: Callable[..., Awaitable[object]]) -> None:
        request = HandlerRequest()
        for body in bodies:
            await handler(request, body)

    found: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(rounds):
        for name, (log, handler) in handlers.items():
            began = time.process_time()
            asyncio.run(call_all(handler))
            while log.pending:  # the writer's work is part of the cost
                time.sleep(0.005)
            found[name].append((time.process_time() - began) / calls * 1e6)
    for log, _ in handlers.values():
        log.close()
    return {name: statistics.median(values) for name, values in found.items()}


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


def report(runs: dict[str, list[Round]], args: argparse.Namespace, home: Path) -> None:
    print(f"\nwrk -t1 -c{CONNECTIONS} -d{args.duration:g}s, {args.rounds} rounds, one uvicorn")
    print(f"worker each, logging on, a new customer id per request ({home})")
    print(
        f"{'/predict':8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>8} "
        f"{'CPU µs/req':>11}  cost: throughput, CPU per request (target)"
    )
    for name in SETUPS:
        rounds = runs[name]
        rps = statistics.median(r.wrk.rps for r in rounds)
        cpu = statistics.median(r.cpu_us for r in rounds)
        pairs = list(zip(rounds, runs["plain"], strict=True))
        lost = 1 - statistics.median(r.wrk.rps / p.wrk.rps for r, p in pairs)
        extra = statistics.median(r.cpu_us / p.cpu_us for r, p in pairs) - 1
        cost = "" if name == "plain" else f"{lost:+.1%}, {extra:+.1%} (≤ {TARGETS[name]:.0%})"
        errors = sum(r.wrk.non_2xx + r.wrk.socket_errors for r in rounds)
        p50 = statistics.median(r.wrk.p50_ms for r in rounds)
        p99 = statistics.median(r.wrk.p99_ms for r in rounds)
        print(f"{name:8} {rps:7.0f} {p50:7.2f} {p99:7.2f} {errors:8d} {cpu:11.0f}  {cost}")
    print("per round, req/s and CPU µs per request:")
    for name, rounds in runs.items():
        print(
            f"  {name:7} {[round(r.wrk.rps) for r in rounds]} {[round(r.cpu_us) for r in rounds]}"
        )


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
    handler = handler_cpu_us(settings, calls=20_000, rounds=3)
    plain_handler = handler["plain"]
    print(
        "/predict's handler alone (in process, no HTTP), CPU µs per call: "
        + ", ".join(
            f"{name} {us:.1f}" + ("" if name == "plain" else f" ({us - plain_handler:+.1f})")
            for name, us in handler.items()
        )
    )
    single, batched = shadow_costs(settings["shadow"])
    plain_us = statistics.median(r.cpu_us for r in runs["plain"])
    print(
        f"challenger score of one row in the request: {single:.1f} µs per call "
        f"({single / plain_us:.1%} of a plain /predict's {plain_us:.0f} µs of CPU); in the log "
        f"writer, 256 rows per call: {batched:.1f} µs per row"
    )
    print(f"(the projects served, kept for inspection: {scratch})")


if __name__ == "__main__":
    main()
