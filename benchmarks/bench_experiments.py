"""What an experiment costs ``/predict``: plain vs A/B at 50 % vs shadow, in the same run.

    .venv/bin/python benchmarks/bench_experiments.py [--home DIR] [--duration 2] [--rounds 40]
        [--blocks 8]

Needs ``wrk`` (Debian: ``apt-get install wrk``). Uses ``bench_api``'s project (v1 and v2,
default settings; trained unless ``--home`` has them) and its server and wrk machinery. Five
copies of the project are served at once, one uvicorn worker each (the HTTP protocol `churnops
serve` uses, logging on): two without an experiment (the second is an A/A control: its "cost"
against the first is the benchmark's own noise, from the machine and from each process's memory
layout), one running an A/B experiment (v1 challenges v2 at 50 %), one an A/B experiment at
0.01 % (every request is routed, marked and logged as in A/B, but nearly all by the champion:
the routing alone, without a second model competing for the CPU caches), one a shadow
experiment (v1 scores beside v2). wrk sends customers in turn, each request with a new customer
id (so A/B really splits customers): by default 10,000 different customers drawn by the
project's generator (``--customers varied``, as real traffic), or the seed example every time
(``--customers seed``: one feature row, so every request walks the same path through each
forest, which stays in the CPU's caches and branch predictor far more than real traffic lets
it), to each server in turn, for ``--rounds`` rounds, each round starting one server further
along. The rounds run in ``--blocks`` blocks, each with new server processes: a process's
memory layout (where its heap, its two forests and the interpreter land) moves its speed by a
point or two for as long as it lives — over five runs with one set of processes each, the A/A
control ranged from −3.4 % to +0.8 % and A/B at 0.01 % from +0.1 % to +3.2 % — so one set of
processes per run would measure their luck, however many rounds. Each server first answers an
unrecorded warm-up run. The figures are medians over the rounds; the cost of a setup is taken
per round against the plain server of the same round, its median per block, and given as the
mean of the blocks' medians with a 95 % t-interval over the blocks (the independent samples: a
block's rounds share its processes' luck), then each block's median. Targets (issue 9): A/B
costs at most 5 % of the throughput, shadow 15 %. Throughput on a shared machine swings with
the neighbours' load, so the cost is also given as the server process's CPU time per request
(all its threads, the log writer's shadow scoring included), which other processes' load moves
less. Many short rounds pair each setup with the plain server under nearly the same load; the
interval says how far the median can be trusted (a few points either way on a machine with a
load average of 10 on 2 cores), and the load average before and after is printed.

The comparison is fair to the routing: v1 and v2 are forests of the same size (default
settings: 200 trees of depth ≤ 8 from the same prepared data, only the seed differs — about
1.6 MB of ONNX each), so A/B at 50 % against plain v2 does not charge the routing for a slower
challenger. The script checks it rather than assume it: each model's single-row call is timed
in this process, alone and drawn at random per call as A/B calls them; the difference of the
two alone is what a slower challenger would add at 50 %, and the random mix against their mean
what the two forests cost each other in the CPU caches.

Then each server is stopped gracefully and its log checked: one row per answered prediction,
and in shadow mode every row with the challenger's score.

The same setups' ``/predict`` handler is also timed in this process, called directly (no HTTP,
no server): the CPU the routing itself adds per request, the log writer's work included, also
as a share of a plain request's server CPU — the precise figure, where the HTTP one is noisy.
Called back to back, though, the handler finds its code and data in the CPU's caches, which a
server's other work per request sweeps away: each call is then also timed alone after reading
``SWEEP_BYTES``, which makes every step cost about what it does in a server and brings these
differences close to the HTTP ones.

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
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from scipy import stats

from churnops.data.generate import generate
from churnops.registry.experiments import start_experiment
from churnops.schema import DEFAULT_SCHEMA
from churnops.serving.app import app_for, build_state
from churnops.serving.inference_log import InferenceLogWriter
from churnops.serving.middleware import REQUEST_ID, STARTED
from churnops.serving.predictor import LoadedModel
from churnops.settings import Settings, load_settings

# "plain-2": a second server of the plain setup, the A/A control (what the benchmark's own
# noise makes of no difference at all)
SETUPS = ("plain", "plain-2", "ab", "ab-0.01", "shadow")
TARGETS = {"ab": 0.05, "ab-0.01": 0.05, "shadow": 0.15}
SHARES = {"ab": 50.0, "ab-0.01": 0.01}
ID_MARK = "@ID@"
CUSTOMERS = 10_000
WARM_UP_S = 1.0  # a new server's first seconds, not measured
# Read between two handler calls timed "cold": about what a server's other work per request
# (uvicorn, the kernel's sockets, the forest's nodes) moves through a core's L2 cache (2 MiB
# here), so the handler meets its code and data as a server's does — not kept in the caches,
# as back-to-back calls keep them.
SWEEP_BYTES = 2 << 20
# The customers in turn, each request with a new customer id: "B" and a counter (wrk -t1: one
# Lua state, ids unique).
WRK_IDS = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local heads = {{{heads}}}
local tails = {{{tails}}}
local counter = 0
request = function()
  counter = counter + 1
  local i = counter % #heads + 1
  return wrk.format(nil, nil, nil, heads[i] .. string.format("B%08d", counter) .. tails[i])
end
"""


def customers(kind: str) -> list[dict[str, Any]]:
    """The bodies the benchmark sends (without a customer id): ``CUSTOMERS`` customers of the
    generator (no dirt: every one valid), or the seed example alone."""
    if kind == "seed":
        return [dict(SEED_BODY)]
    frame = generate(CUSTOMERS, seed=11, dirt=False).frame
    return frame[DEFAULT_SCHEMA.feature_names].to_dict("records")


def wrk_script(folder: Path, bodies: list[dict[str, Any]]) -> Path:
    halves = [json.dumps({**body, "customer_id": ID_MARK}).split(ID_MARK) for body in bodies]
    # Lua long strings: the JSON goes in as it is, whatever quotes or backslashes it holds
    heads = ",".join(f"[==[{head}]==]" for head, _ in halves)
    tails = ",".join(f"[==[{tail}]==]" for _, tail in halves)
    script = folder / "ids.lua"
    script.write_text(WRK_IDS.format(heads=heads, tails=tails), encoding="utf-8")
    return script


def encoded(settings: Settings, bodies: list[dict[str, Any]]) -> np.ndarray:
    """The bodies as the champion's encoder makes them: one float32 row each."""
    state = build_state(settings)
    state.predictor.refresh()
    assert state.predictor.serving is not None
    inputs = state.predictor.serving.champion.inputs
    rows = [inputs.encoder.encode_one(inputs.row(json.dumps(body).encode())) for body in bodies]
    return np.vstack(rows)


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
    block: int  # which set of server processes answered it


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(
    servers: dict[str, Server], script: Path, duration: float, turns: list[int], block: int
) -> dict[str, list[Round]]:
    """Each round loads every server in turn, starting one further along each round (so no
    setup always follows the same one)."""
    runs: dict[str, list[Round]] = {name: [] for name in SETUPS}
    for turn in turns:
        start_at = turn % len(SETUPS)
        for name in SETUPS[start_at:] + SETUPS[:start_at]:
            server = servers[name]
            before = cpu_seconds(server.process.pid)
            result = run_wrk(f"{server.url}/predict", duration, script)
            spent = cpu_seconds(server.process.pid) - before
            runs[name].append(Round(result, spent / result.requests * 1e6, block))
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


class HandlerRequest:
    """What ``/predict``'s handler reads of a request: the scope the middleware fills."""

    def __init__(self) -> None:
        self.scope = {REQUEST_ID: "bench-1", STARTED: time.perf_counter()}


Handler = Callable[..., Awaitable[object]]


def predict_handlers(
    settings: dict[str, Settings],
) -> dict[str, tuple[InferenceLogWriter, Handler]]:
    """Per setup, its API's state built in this process (log writer started, model loaded) and
    ``/predict``'s handler."""
    handlers = {}
    for name, one in settings.items():
        state = build_state(one)
        app = app_for(state)
        assert state.log is not None
        state.log.start()
        state.predictor.refresh()
        handler = next(r.endpoint for r in app.routes if getattr(r, "path", "") == "/predict")
        handlers[name] = (state.log, handler)
    return handlers


def drained(log: InferenceLogWriter) -> None:
    """Waits until the log writer has written everything submitted."""
    while log.pending:
        time.sleep(0.005)


def alternated(
    settings: dict[str, Settings],
    rounds: int,
    measure: Callable[[Handler, InferenceLogWriter], float],
) -> dict[str, float]:
    """``measure`` of each setup's ``/predict`` handler, the setups in turn for ``rounds``
    rounds; per setup, the median round. ``measure`` leaves the log writer drained."""
    handlers = predict_handlers(settings)
    found: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(rounds):
        for name, (log, handler) in handlers.items():
            found[name].append(measure(handler, log))
    for log, _ in handlers.values():
        log.close()
    return {name: statistics.median(values) for name, values in found.items()}


def request_bodies(bodies: list[dict[str, Any]], calls: int, mark: str) -> list[bytes]:
    """``calls`` request bodies: the customers in turn, each with a new id (``mark``, counter)."""
    return [
        json.dumps({**bodies[i % len(bodies)], "customer_id": f"{mark}{i:08d}"}).encode()
        for i in range(calls)
    ]


def handler_cpu_us(
    settings: dict[str, Settings], bodies: list[dict[str, Any]], calls: int, rounds: int
) -> dict[str, float]:
    """CPU µs (all threads: the log writer's inserts and shadow scoring included) per call of
    ``/predict``'s handler itself, called in this process without HTTP, per setup: the cost of
    routing without the server around it. Median over ``rounds`` alternations."""
    sent = request_bodies(bodies, calls, "H")

    async def call_all(handler: Handler) -> None:
        request = HandlerRequest()
        for body in sent:
            await handler(request, body)

    def measure(handler: Handler, log: InferenceLogWriter) -> float:
        began = time.process_time()
        asyncio.run(call_all(handler))
        drained(log)  # the writer's work is part of the cost
        return (time.process_time() - began) / calls * 1e6

    return alternated(settings, rounds, measure)


def handler_cold_us(
    settings: dict[str, Settings], bodies: list[dict[str, Any]], calls: int, rounds: int
) -> dict[str, float]:
    """µs per call of ``/predict``'s handler, each call timed alone with the caches swept
    before it (``SWEEP_BYTES``), per setup: what each step costs when its code and data come
    from memory, as in a server. The median call of each round, the median over ``rounds``
    alternations. (Wall time of the call: the log writer's work is not in it.)"""
    sent = request_bodies(bodies, calls, "K")
    sweep = np.ones(SWEEP_BYTES, dtype=np.uint8)

    async def call_all(handler: Handler) -> float:
        request = HandlerRequest()
        calls_ns = []
        for body in sent:
            sweep.sum()
            began = time.perf_counter_ns()
            await handler(request, body)
            calls_ns.append(time.perf_counter_ns() - began)
        return statistics.median(calls_ns) / 1_000

    def measure(handler: Handler, log: InferenceLogWriter) -> float:
        median_us = asyncio.run(call_all(handler))
        drained(log)
        return median_us

    return alternated(settings, rounds, measure)


def shadow_per_row_us(
    settings: Settings, matrix: np.ndarray, rows: int = 256, calls: int = 50
) -> float:
    """µs per row of one challenger call on ``rows`` rows of ``matrix`` (what the log writer
    pays), the median call of ``calls``."""
    state = build_state(settings)
    state.predictor.refresh()
    serving = state.predictor.serving
    assert serving is not None and serving.experiment is not None
    challenger: LoadedModel = serving.experiment.challenger
    blocks = [
        np.resize(np.roll(matrix, -call * rows, axis=0), (rows, matrix.shape[1]))
        for call in range(calls)
    ]  # the customers in turn, other ones each call
    calls_ns = []
    for many in blocks:
        began = time.perf_counter_ns()
        challenger.predict(many)
        calls_ns.append(time.perf_counter_ns() - began)
    return statistics.median(calls_ns) / rows / 1_000


@dataclass
class ModelCosts:
    """µs per single-row call of each A/B model, alone and drawn at random per call (50 %)."""

    champion_us: float
    challenger_us: float
    mixed_us: float
    champion_mb: float  # the ONNX file
    challenger_mb: float

    @property
    def mix_alone_us(self) -> float:
        """What a 50 % mix costs per call if the two models did not slow each other down."""
        return (self.champion_us + self.challenger_us) / 2


def model_costs(
    settings: Settings, matrix: np.ndarray, calls: int = 5_000, rounds: int = 15
) -> ModelCosts:
    """Times the two models of the A/B setup on the rows of ``matrix`` (one per call, in turn)
    in this process, in alternating
    rounds: the champion alone, the challenger alone, and one of the two per call at random
    (as A/B at 50 % calls them). The first two say whether the challenger is a slower model;
    the mix against their mean, what the models cost each other (caches). Each round's figure
    is the median call, so a call the neighbours preempted does not count."""
    state = build_state(settings)
    state.predictor.refresh()
    serving = state.predictor.serving
    assert serving is not None and serving.experiment is not None
    champion, challenger = serving.champion, serving.experiment.challenger
    rows = [matrix[i % len(matrix)][None, :] for i in range(calls)]
    draws = np.random.default_rng(0).integers(0, 2, calls)
    sequences = {
        "champion": [champion] * calls,
        "challenger": [challenger] * calls,
        "mixed": [challenger if draw else champion for draw in draws],
    }
    found: dict[str, list[float]] = {name: [] for name in sequences}
    for _ in range(rounds):
        for name, sequence in sequences.items():
            calls_ns = []
            for model, row in zip(sequence, rows, strict=True):
                began = time.perf_counter_ns()
                model.predict(row)
                calls_ns.append(time.perf_counter_ns() - began)
            found[name].append(statistics.median(calls_ns) / 1_000)
    models = settings.models_dir
    return ModelCosts(
        champion_us=statistics.median(found["champion"]),
        challenger_us=statistics.median(found["challenger"]),
        mixed_us=statistics.median(found["mixed"]),
        champion_mb=(models / champion.entry.onnx_file).stat().st_size / 1e6,
        challenger_mb=(models / challenger.entry.onnx_file).stat().st_size / 1e6,
    )


def block_medians(values: list[float], blocks: list[int]) -> list[float]:
    return [
        statistics.median(v for v, b in zip(values, blocks, strict=True) if b == block)
        for block in sorted(set(blocks))
    ]


def block_interval(medians: list[float]) -> tuple[float, float, float]:
    """The mean of the blocks' medians and its 95 % t-interval (blocks − 1 degrees of
    freedom): the rounds of one set of processes share its luck, so the blocks, not the
    rounds, are the independent samples."""
    mean = statistics.mean(medians)
    half = float(stats.t.ppf(0.975, len(medians) - 1)) * statistics.stdev(medians)
    half /= len(medians) ** 0.5
    return mean, mean - half, mean + half


def cost_text(name: str, runs: dict[str, list[Round]]) -> str:
    """The costs against the plain server of the same round, as block intervals, then each
    block's median throughput cost."""
    pairs = list(zip(runs[name], runs["plain"], strict=True))
    blocks = [r.block for r, _ in pairs]
    lost = block_medians([1 - r.wrk.rps / p.wrk.rps for r, p in pairs], blocks)
    extra = block_medians([r.cpu_us / p.cpu_us - 1 for r, p in pairs], blocks)
    target = TARGETS.get(name)
    meant = f"≤ {target:.0%}" if target is not None else "A/A control: 0 expected"
    costs = ", ".join(
        f"{m:+.1%} [{lo:+.1%}, {hi:+.1%}]"
        for m, lo, hi in (block_interval(lost), block_interval(extra))
    )
    per_block = " ".join(f"{median:+.1%}" for median in lost)
    return f"{costs} ({meant}); per block: {per_block}"


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def report(
    runs: dict[str, list[Round]], args: argparse.Namespace, home: Path, loads: tuple[str, str]
) -> None:
    print(
        f"\nwrk -t1 -c{CONNECTIONS} -d{args.duration:g}s, {args.rounds} rounds in {args.blocks} "
        "blocks of new server processes, one uvicorn"
    )
    sent = (
        f"{CUSTOMERS:,} generated customers in turn"
        if args.customers == "varied"
        else ("the seed example every time")
    )
    print(f"worker each, logging on, {sent}, a new customer id per request ({home})")
    print(f"load average (1, 5, 15 min) before / after the rounds: {loads[0]} / {loads[1]}")
    print(
        f"{'/predict':8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>8} "
        f"{'CPU µs/req':>11}  cost, mean of the blocks' medians [95 % t-interval]: throughput, "
        "CPU per request (target)"
    )
    for name in SETUPS:
        rounds = runs[name]
        rps = statistics.median(r.wrk.rps for r in rounds)
        cpu = statistics.median(r.cpu_us for r in rounds)
        cost = "" if name == "plain" else cost_text(name, runs)
        errors = sum(r.wrk.non_2xx + r.wrk.socket_errors for r in rounds)
        p50 = statistics.median(r.wrk.p50_ms for r in rounds)
        p99 = statistics.median(r.wrk.p99_ms for r in rounds)
        print(f"{name:8} {rps:7.0f} {p50:7.2f} {p99:7.2f} {errors:8d} {cpu:11.0f}  {cost}")
    print("per round, req/s and CPU µs per request:")
    for name, rounds in runs.items():
        print(
            f"  {name:7} {[round(r.wrk.rps) for r in rounds]} {[round(r.cpu_us) for r in rounds]}"
        )


def serve_and_load(
    settings: dict[str, Settings], script: Path, args: argparse.Namespace
) -> tuple[dict[str, list[Round]], dict[str, float], tuple[str, str]]:
    """For each block, start a server per setup, load them in rounds, stop them gracefully:
    the rounds, each setup's answered predictions, and the load average before and after."""
    runs: dict[str, list[Round]] = {name: [] for name in SETUPS}
    answered = dict.fromkeys(SETUPS, 0.0)
    before = load_average()
    for block, turns in enumerate(np.array_split(np.arange(args.rounds), args.blocks)):
        found, counted = serve_block(settings, script, args.duration, turns.tolist(), block)
        for name in SETUPS:
            runs[name] += found[name]
            answered[name] += counted[name]
    return runs, answered, (before, load_average())


def serve_block(
    settings: dict[str, Settings], script: Path, duration: float, turns: list[int], block: int
) -> tuple[dict[str, list[Round]], dict[str, float]]:
    """One set of server processes (new processes: a new memory layout) loaded in rounds,
    started in an order drawn per block (seeded): with a fixed order the A/A control came out
    at −1.0 % [−1.9 %, −0.1 %] over 8 blocks — a difference between the first and the second
    server started, which a fixed order charges to the same setup every block. Each server
    first answers one unrecorded warm-up run."""
    servers: dict[str, Server] = {}
    try:
        for name in random.Random(block).sample(SETUPS, len(SETUPS)):
            servers[name] = start(name, "churnops.api:app", settings[name].home, http=GUARDED_HTTP)
        for server in servers.values():
            run_wrk(f"{server.url}/predict", WARM_UP_S, script)
        runs = throughput(servers, script, duration, turns, block)
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
    return runs, answered


def handler_text(handler: dict[str, float], plain_us: float) -> str:
    """Each setup's µs per call, and its difference from the plain one (also as a share of a
    plain request's server CPU, ``plain_us``)."""
    plain = handler["plain"]
    return (
        ", ".join(
            f"{name} {us:.1f}"
            + ("" if name == "plain" else f" ({us - plain:+.1f} = {(us - plain) / plain_us:+.1%})")
            for name, us in handler.items()
        )
        + f" (%: of a plain request's {plain_us:.0f} µs of server CPU)"
    )


def in_process_report(
    settings: dict[str, Settings], bodies: list[dict[str, Any]], plain_us: float
) -> None:
    """The handler, the A/B models and the shadow score timed in this process, each also as a
    share of a plain ``/predict``'s server CPU (``plain_us``)."""
    print(
        "/predict's handler alone (in process, no HTTP), CPU µs per call: "
        + handler_text(handler_cpu_us(settings, bodies, calls=10_000, rounds=7), plain_us)
    )
    print(
        "the same, each call timed alone after a sweep of the caches, as in a server (wall "
        "µs, the log writer's work left out): "
        + handler_text(handler_cold_us(settings, bodies, calls=4_000, rounds=7), plain_us)
    )
    matrix = encoded(settings["ab"], bodies)
    models = model_costs(settings["ab"], matrix)
    slower = (models.mix_alone_us - models.champion_us) / plain_us
    contention = (models.mixed_us - models.mix_alone_us) / plain_us
    print(
        f"A/B's models on one row, in process, µs per call: champion {models.champion_us:.2f} "
        f"({models.champion_mb:.2f} MB of ONNX), challenger {models.challenger_us:.2f} "
        f"({models.challenger_mb:.2f} MB), one of the two at random per call "
        f"{models.mixed_us:.2f} (their mean {models.mix_alone_us:.2f}); of a plain request's "
        f"CPU at 50 %: challenger slower {slower:+.1%}, the models' cache contention "
        f"{contention:+.1%}"
    )
    batched = shadow_per_row_us(settings["shadow"], matrix)
    single = models.challenger_us  # the shadow challenger is the A/B one, on the same rows
    print(
        f"challenger score of one row in the request: {single:.1f} µs per call "
        f"({single / plain_us:.1%} of a plain /predict's {plain_us:.0f} µs of CPU); in the log "
        f"writer, 256 rows per call: {batched:.1f} µs per row"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="project folder (default: a scratch folder)")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument(
        "--blocks", type=int, default=8, help="new server processes this many times (default 8)"
    )
    parser.add_argument(
        "--customers",
        choices=("varied", "seed"),
        default="varied",
        help="generated customers in turn (default), or the seed example every time",
    )
    args = parser.parse_args()
    if not 2 <= args.blocks <= args.rounds:
        parser.error("--blocks must be at least 2 and at most --rounds")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    home = args.home or Path(tempfile.mkdtemp(prefix="churnops-bench-"))
    prepare_home(home)
    scratch = Path(tempfile.mkdtemp(prefix="churnops-bench-experiments-"))
    settings = homes(home, scratch)
    bodies = customers(args.customers)
    runs, answered, loads = serve_and_load(settings, wrk_script(scratch, bodies), args)
    report(runs, args, home, loads)
    for name in SETUPS:
        rows, shadowed = log_check(settings[name])
        print(
            f"{name}: answered {answered[name]:,.0f} predictions, logged {rows:,} rows"
            + (f", {shadowed:,} with the challenger's shadow score" if name == "shadow" else "")
        )
    in_process_report(settings, bodies, statistics.median(r.cpu_us for r in runs["plain"]))
    print(f"(the projects served, kept for inspection: {scratch})")


if __name__ == "__main__":
    main()
