"""Benchmark the prediction API with wrk, against a bare FastAPI app and a seed-style endpoint.

    .venv/bin/python benchmarks/bench_api.py [--home DIR] [--duration 10] [--rounds 3]

Needs ``wrk`` (Debian: ``apt-get install wrk``). Trains v1 and v2 in a scratch project folder
(default settings: 10,000 customers, 200 trees) unless ``--home`` already has two versions,
then, each server being one uvicorn worker on loopback (the API with the HTTP protocol
`churnops serve` uses: httptools with read deadlines and a connection cap):

1. ``/predict`` vs the bare app (same pydantic body, constant answer), alternated ``--rounds``
   times (the median round is reported), then the seed-style DataFrame + scikit-learn app;
2. ``/predict/batch`` with 10,000 rows;
3. a rollback while wrk loads ``/predict``: non-2xx count, and how long after the pointer
   moved the answers came from the rolled-back version;
4. after a graceful stop (SIGTERM), logged rows vs predictions answered — once for all the
   load above (server-side count), once with a client that counts every 2xx exactly while
   the server is stopped under load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from churnops import workflow
from churnops.cli.serve_cmds import GUARDED_HTTP
from churnops.registry.promotion import switch
from churnops.registry.store import open_registry
from churnops.schema import SEED_EXAMPLE
from churnops.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
SEED_BODY = dict(SEED_EXAMPLE)
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
"""
CONNECTIONS = 8


# ---- servers ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str


def start(
    name: str,
    target: str,
    home: Path,
    factory: bool = False,
    http: str = "auto",
    probe: dict[str, Any] = SEED_BODY,
    env: dict[str, str] | None = None,
) -> Server:
    """Start ``target`` on a free port (with ``env`` added to the environment) and wait until
    it answers ``probe`` on /predict."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", target, "--port", str(port)]
    command += ["--host", "127.0.0.1", "--workers", "1", "--log-level", "warning"]
    command += ["--no-access-log", "--http", http, *(["--factory"] if factory else [])]
    environment = {**os.environ, "CHURNOPS_HOME": str(home), "PYTHONPATH": str(ROOT), **(env or {})}
    process = subprocess.Popen(command, env=environment, cwd=ROOT)
    server = Server(name, process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"{server.url}/predict", json=probe).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{name} did not start")


def stop(server: Server) -> float:
    """SIGTERM, as a container runtime would; returns seconds until the process exited."""
    began = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=60)
    return time.monotonic() - began


# ---- wrk ---------------------------------------------------------------------------------------
@dataclass
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def run_wrk(url: str, duration: float, script: Path) -> WrkResult:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration:g}s", "--latency", "-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return WrkResult(
        requests=int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(latency["50"]),
        p99_ms=_ms(latency["99"]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


# ---- project ------------------------------------------------------------------------------------
def prepare_home(home: Path) -> Settings:
    """A project with v1 and v2 registered, v2 current (so a rollback goes to v1)."""
    settings = load_settings(home=home)
    state = open_registry(settings).read()
    if len(state.versions) < 2:
        print(f"training v1 and v2 in {home} (default settings) …", flush=True)
        workflow.generate_step(settings)
        workflow.prepare_step(settings)
        workflow.train_step(settings)
        workflow.train_step(load_settings(home=home, seed=7), force=True)
    state = open_registry(settings).read()
    latest = max(v.version for v in state.versions)
    if state.current_version != latest:
        switch(settings, "promote", latest, "benchmark setup")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.inference_db}{suffix}").unlink(missing_ok=True)
    return settings


def logged_rows(settings: Settings) -> int:
    conn = sqlite3.connect(settings.inference_db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM inference_log").fetchone()[0])
    finally:
        conn.close()


def metric_total(url: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus counter's samples matching ``labels``."""
    total = 0.0
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


# ---- phases ------------------------------------------------------------------------------------
def throughput(
    servers: dict[str, Server], script: Path, args: argparse.Namespace
) -> dict[str, Any]:
    rounds: dict[str, list[WrkResult]] = {"bare": [], "predict": []}
    for _ in range(args.rounds):
        for name in ("bare", "predict"):
            rounds[name].append(run_wrk(f"{servers[name].url}/predict", args.duration, script))
    results = {
        name: sorted(runs, key=lambda r: r.rps)[len(runs) // 2] for name, runs in rounds.items()
    }
    results["seed"] = run_wrk(f"{servers['seed'].url}/predict", args.duration, script)
    ratios = [p.rps / b.rps for p, b in zip(rounds["predict"], rounds["bare"], strict=True)]
    return {
        "results": results,
        "all_rps": {name: [round(r.rps) for r in runs] for name, runs in rounds.items()},
        "paired_ratio": statistics.median(ratios),
    }


def batch_latency(url: str, rows: int, repeats: int, settle: bool) -> list[float]:
    """Milliseconds per ``/predict/batch`` call of ``rows`` rows. With ``settle``, each call
    waits until the previous call's log rows are written (the call alone); without, calls go
    back to back and overlap the log writer's work."""
    body = json.dumps([{**SEED_BODY, "customer_id": f"C{i:07d}"} for i in range(rows)]).encode()
    headers = {"content-type": "application/json"}
    timings = []
    with httpx.Client(timeout=60) as client:
        for _ in range(repeats):
            while settle and metric_total(url, "churnops_inference_log_queue_depth") > 0:
                time.sleep(0.05)
            began = time.perf_counter()
            response = client.post(f"{url}/predict/batch", content=body, headers=headers)
            timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200 and response.json()["count"] == rows
    return timings


def rollback_under_load(
    server: Server, settings: Settings, script: Path, duration: float
) -> dict[str, Any]:
    before = httpx.post(f"{server.url}/predict", json=SEED_BODY).json()["model_version"]
    seen: list[tuple[float, int, int]] = []  # (time, status, version)
    stop_probe = threading.Event()

    def probe() -> None:
        with httpx.Client() as client:
            while not stop_probe.is_set():
                response = client.post(f"{server.url}/predict", json=SEED_BODY)
                version = response.json().get("model_version", -1) if response.is_success else -1
                seen.append((time.monotonic(), response.status_code, version))
                time.sleep(0.005)

    load: dict[str, WrkResult] = {}
    loader = threading.Thread(
        target=lambda: load.setdefault("r", run_wrk(f"{server.url}/predict", duration, script))
    )
    prober = threading.Thread(target=probe)
    loader.start()
    prober.start()
    time.sleep(duration / 3)
    moved_at = time.monotonic()
    _, entry = switch(settings, "rollback", None, "benchmark: rollback under load")
    loader.join()
    stop_probe.set()
    prober.join()
    switched = next((t for t, _, v in seen if t >= moved_at and v == entry.version), None)
    return {
        "from": before,
        "to": entry.version,
        "wrk": load["r"],
        "probe_requests": len(seen),
        "probe_non_2xx": sum(1 for _, s, _ in seen if not 200 <= s < 300),
        "switch_seconds": None if switched is None else switched - moved_at,
        "poll_interval": settings.poll_interval,
    }


async def _count_until_stopped(
    url: str, stop_after: float, process: subprocess.Popen[bytes]
) -> int:
    """8 connections posting until the server goes away; SIGTERM after ``stop_after`` s.
    Returns the exact number of 2xx answers received."""
    ok = 0
    body = json.dumps(SEED_BODY).encode()
    headers = {"content-type": "application/json"}

    async def worker() -> None:
        nonlocal ok
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                try:
                    response = await client.post(f"{url}/predict", content=body, headers=headers)
                except httpx.TransportError:
                    if process.poll() is not None:
                        return
                    continue
                if 200 <= response.status_code < 300:
                    ok += 1

    async def stopper() -> None:
        await asyncio.sleep(stop_after)
        process.send_signal(signal.SIGTERM)

    await asyncio.gather(stopper(), *[worker() for _ in range(CONNECTIONS)])
    return ok


def stop_under_load(home: Path, settings: Settings) -> dict[str, Any]:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.inference_db}{suffix}").unlink(missing_ok=True)
    server = start("api", "churnops.api:app", home, http=GUARDED_HTTP)
    answered = asyncio.run(_count_until_stopped(server.url, 4.0, server.process))
    server.process.wait(timeout=60)
    return {"answered_2xx": answered + 1, "logged": logged_rows(settings)}  # +1: start() probe


# ---- report ------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="project folder (default: a scratch folder)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="bare/predict alternations")
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    home = args.home or Path(tempfile.mkdtemp(prefix="churnops-bench-"))
    settings = prepare_home(home)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(WRK_SCRIPT.format(body=json.dumps(SEED_BODY)))
    script = Path(handle.name)

    servers: dict[str, Server] = {}
    try:
        servers["predict"] = start("api", "churnops.api:app", home, http=GUARDED_HTTP)
        servers["bare"] = start("bare", "benchmarks.baseline_apps:bare_app", home, factory=True)
        servers["seed"] = start("seed", "benchmarks.baseline_apps:seed_app", home, factory=True)
        measured = throughput(servers, script, args)
        api = servers["predict"]
        batch = batch_latency(api.url, args.batch_rows, repeats=9, settle=True)
        batch_busy = batch_latency(api.url, args.batch_rows, repeats=9, settle=False)
        rollback = rollback_under_load(api, settings, script, args.duration)
        answered = metric_total(api.url, "churnops_predictions_total")
        http_2xx = metric_total(api.url, "churnops_http_requests_total", status="200")
        stop_seconds = stop(servers.pop("predict"))
        after_load = {
            "predictions": answered,
            "http_200": http_2xx,
            "logged": logged_rows(settings),
        }
        exact = stop_under_load(home, settings)
    finally:
        for server in servers.values():
            server.process.kill()
            server.process.wait()

    results: dict[str, WrkResult] = measured["results"]
    bare, api_result, seed = results["bare"], results["predict"], results["seed"]
    print(f"\nwrk -t1 -c{CONNECTIONS} -d{args.duration:g}s, one uvicorn worker each ({home})")
    print(f"{'endpoint':32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for label, result in (
        ("bare FastAPI (constant)", bare),
        ("/predict (ONNX, logging on)", api_result),
        ("seed-style (DataFrame+sklearn)", seed),
    ):
        print(
            f"{label:32} {result.rps:9.0f} {result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.non_2xx + result.socket_errors:8d}"
        )
    print(f"all rounds req/s: {measured['all_rps']}")
    print(
        f"/predict = {api_result.rps / bare.rps:.0%} of bare (median of the per-round ratios: "
        f"{measured['paired_ratio']:.0%}), {api_result.rps / seed.rps:.0f}x seed-style"
    )
    print(
        f"/predict/batch {args.batch_rows:,} rows: median {statistics.median(batch):.0f} ms, "
        f"max {max(batch):.0f} ms (n={len(batch)}, each after the log caught up); back to back: "
        f"median {statistics.median(batch_busy):.0f} ms, max {max(batch_busy):.0f} ms"
    )
    wrk_rb: WrkResult = rollback["wrk"]
    switch_s = rollback["switch_seconds"]
    print(
        f"rollback v{rollback['from']}→v{rollback['to']} under load: {wrk_rb.rps:.0f} req/s, "
        f"non-2xx {wrk_rb.non_2xx} + socket errors {wrk_rb.socket_errors} (wrk), "
        f"{rollback['probe_non_2xx']} of {rollback['probe_requests']} probes; answers switched "
        + (f"{switch_s:.2f} s" if switch_s is not None else "NEVER")
        + f" after the pointer moved (poll interval {rollback['poll_interval']:g} s)"
    )
    print(
        f"graceful stop after all the load ({stop_seconds:.1f} s): logged {after_load['logged']:,} "
        f"rows, server counted {after_load['predictions']:,.0f} predictions "
        f"({after_load['http_200']:,.0f} HTTP 200s)"
    )
    print(
        f"SIGTERM under load: client received {exact['answered_2xx']:,} 2xx, "
        f"logged {exact['logged']:,} rows"
    )
    if args.json:
        payload = {
            "throughput": {k: vars(v) for k, v in results.items()},
            "all_rps": measured["all_rps"],
            "paired_ratio": measured["paired_ratio"],
            "batch_ms": batch,
            "batch_back_to_back_ms": batch_busy,
            "rollback": {**rollback, "wrk": vars(wrk_rb)},
            "after_load": after_load,
            "stop_under_load": exact,
        }
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
