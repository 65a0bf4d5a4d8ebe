"""Hostile clients for a running API, bounded in connections and time, and a probe that
measures how the API answers new clients meanwhile. The tests use the pieces; run as a script
it attacks a real ``churnops serve`` and prints the figures:

    .venv/bin/python tests/integration/attacks.py [--attack slow|amplify] [--seconds 30]
        [--connections 1100] [--open-files 1024] [--server-python PATH]

* ``slow``: ``--connections`` clients that send a partial request (half of them stop in the
  headers, half in the body) and then one byte every ``--drip`` seconds, reconnecting at the
  next drip when the server closes them — the slowloris attack. The server starts with a
  soft open-files limit of ``--open-files`` (its hard limit unchanged), as on a host with the
  common 1,024 default.
* ``amplify``: two clients sending, back to back, bodies whose validation errors used to be
  large: 10,000 empty rows to ``/predict/batch``, and an 8 MB ``{"a": "AAA…"}`` to ``/predict``
  and (as a one-row batch) to ``/predict/batch``.
* ``batches``: no attack, the reference for ``amplify``: two clients sending valid
  10,000-row batches back to back.

Meanwhile a probe asks ``GET /health/live`` and ``POST /predict`` every 50 ms, each on a new
connection (a new client). ``--server-python`` runs the server with another interpreter (e.g.
an older checkout's ``.venv/bin/python``) to compare, on the same machine, before and after.
The attackers run in a child process so their own work does not delay the probe.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from api_support import free_port

from churnops.schema import SEED_EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
SEED_BODY = orjson.dumps(dict(SEED_EXAMPLE))
JSON = {"content-type": "application/json"}
BODY_LENGTH = 4096  # what a slow client announces and never finishes sending


# ---- slow clients ---------------------------------------------------------------------------
@dataclass
class SlowStats:
    opened: int = 0
    closed_by_server: int = 0  # the server answered or closed the connection
    answered_408: int = 0
    connect_errors: int = 0


def partial_request(in_body: bool) -> bytes:
    """The start of a request that stops in the headers, or in the body."""
    head = b"POST /predict HTTP/1.1\r\nhost: attack\r\ncontent-type: application/json\r\n"
    if not in_body:
        return head + b"x-slow: "
    return head + b"content-length: %d\r\n\r\n{" % BODY_LENGTH


async def slow_client(
    host: str, port: int, in_body: bool, drip: float, until: float, stats: SlowStats
) -> None:
    """One slowloris connection at a time until ``until`` (monotonic): a partial request, then
    a byte every ``drip`` seconds; when the server closes it, a new one at the next drip (as
    the slowloris tool does)."""
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            stats.connect_errors += 1
            await asyncio.sleep(0.5)
            continue
        stats.opened += 1
        try:
            writer.write(partial_request(in_body))
            while time.monotonic() < until:
                try:
                    answer = await asyncio.wait_for(reader.read(1024), timeout=drip)
                except TimeoutError:
                    writer.write(b"a")
                    await writer.drain()
                    continue
                stats.closed_by_server += 1
                stats.answered_408 += answer.startswith(b"HTTP/1.1 408")
                break
        except OSError:  # reset by the server
            stats.closed_by_server += 1
        finally:
            writer.close()
        await asyncio.sleep(drip)


async def slow_clients(
    host: str, port: int, connections: int, drip: float, seconds: float
) -> SlowStats:
    """``connections`` slow clients for ``seconds``, opened over the first second."""
    stats = SlowStats()
    until = time.monotonic() + seconds

    async def start(index: int) -> None:
        await asyncio.sleep(index / connections)
        await slow_client(host, port, index % 2 == 1, drip, until, stats)

    await asyncio.gather(*[start(i) for i in range(connections)])
    return stats


# ---- validation amplification --------------------------------------------------------------
HUGE_STRING = b'{"a":"' + b"A" * 8_000_000 + b'"}'
AMPLIFYING = (
    ("/predict/batch", orjson.dumps([{}] * 10_000)),
    ("/predict", HUGE_STRING),
    ("/predict/batch", b"[" + HUGE_STRING + b"]"),
)
VALID_BATCHES = (("/predict/batch", orjson.dumps([dict(SEED_EXAMPLE)] * 10_000)),)


@dataclass
class AmplifyStats:
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    largest_answer: int = 0
    errors: int = 0


async def amplifiers(
    url: str, clients: int, seconds: float, bodies: tuple[tuple[str, bytes], ...] = AMPLIFYING
) -> AmplifyStats:
    """``clients`` clients posting ``bodies`` in turn, back to back, for ``seconds``."""
    stats = AmplifyStats()
    until = time.monotonic() + seconds

    async def client(offset: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            turn = offset
            while time.monotonic() < until:
                path, body = bodies[turn % len(bodies)]
                turn += 1
                try:
                    response = await http.post(path, content=body, headers=JSON)
                except httpx.TransportError:
                    stats.errors += 1
                    continue
                stats.requests += 1
                status = str(response.status_code)
                stats.statuses[status] = stats.statuses.get(status, 0) + 1
                stats.largest_answer = max(stats.largest_answer, len(response.content))

    await asyncio.gather(*[client(i) for i in range(clients)])
    return stats


# ---- the probe: new clients --------------------------------------------------------------------
@dataclass
class ProbeStats:
    live_ms: list[float] = field(default_factory=list)
    predict_ok: int = 0
    failures: list[str] = field(default_factory=list)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.live_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else -1.0


async def probe(url: str, done: Callable[[], bool], every: float = 0.05) -> ProbeStats:
    """``GET /health/live`` then ``POST /predict``, each on a new connection, until ``done()``;
    records /health/live's latency (connection included) and every failure."""
    stats = ProbeStats()
    fresh = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=fresh) as http:
        while not done():
            began = time.perf_counter()
            try:
                live = await http.get("/health/live")
                stats.live_ms.append((time.perf_counter() - began) * 1000)
                predicted = await http.post("/predict", content=SEED_BODY, headers=JSON)
            except httpx.TransportError as exc:
                stats.failures.append(f"{type(exc).__name__}: {exc}")
            else:
                if live.status_code != 200 or predicted.status_code != 200:
                    stats.failures.append(f"{live.status_code}/{predicted.status_code}")
                else:
                    stats.predict_ok += 1
            await asyncio.sleep(every)
    return stats


# ---- running an attack next to the probe -------------------------------------------------------
def _attack_in_child(attack: str, url: str, port: int, args: dict[str, float], out: str) -> None:
    if attack == "slow":
        result: object = asyncio.run(
            slow_clients("127.0.0.1", port, int(args["connections"]), args["drip"], args["seconds"])
        )
    else:
        bodies = AMPLIFYING if attack == "amplify" else VALID_BATCHES
        result = asyncio.run(amplifiers(url, int(args["clients"]), args["seconds"], bodies))
    Path(out).write_bytes(orjson.dumps(result))


def attack_and_probe(
    attack: str, url: str, port: int, settle: float, **args: float
) -> tuple[dict[str, object], ProbeStats]:
    """Run the attack in a child process for ``args['seconds']``; probe from ``settle``
    seconds in (the attack running at full strength) until it ends."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        child = multiprocessing.get_context("spawn").Process(
            target=_attack_in_child, args=(attack, url, port, args, out.name)
        )
        child.start()
        time.sleep(settle)
        stats = asyncio.run(probe(url, lambda: not child.is_alive()))
        child.join()
        return orjson.loads(Path(out.name).read_bytes() or b"{}"), stats


# ---- the script ------------------------------------------------------------------------------
def _limit_open_files(soft: int) -> Callable[[], None]:
    def apply() -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard), hard))

    return apply


def _serve(python: str, home: Path, port: int, open_files: int) -> subprocess.Popen[bytes]:
    command = [python, "-m", "churnops", "serve", "--home", str(home), "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=ROOT, preexec_fn=_limit_open_files(open_files), stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            answer = httpx.post(f"http://127.0.0.1:{port}/predict", content=SEED_BODY, headers=JSON)
            if answer.status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def _trained_home(home: Path | None) -> Path:
    from churnops import workflow
    from churnops.settings import load_settings

    if home is not None:
        return home
    home = Path(tempfile.mkdtemp(prefix="churnops-attack-"))
    settings = load_settings(home=home, rows=4_000, n_estimators=60)
    workflow.generate_step(settings)
    workflow.prepare_step(settings)
    workflow.train_step(settings)
    return home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attack", choices=["slow", "amplify", "batches"], default="slow")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=1_100)
    parser.add_argument("--drip", type=float, default=5.0, help="seconds between slow bytes")
    parser.add_argument("--clients", type=int, default=2, help="amplifying clients")
    parser.add_argument("--open-files", type=int, default=1_024, help="server's soft limit")
    parser.add_argument("--server-python", default=sys.executable)
    parser.add_argument("--home", type=Path, help="a trained project (default: train one)")
    args = parser.parse_args()
    home = _trained_home(args.home)
    port = free_port()
    server = _serve(args.server_python, home, port, args.open_files)
    url = f"http://127.0.0.1:{port}"
    try:
        result, stats = attack_and_probe(
            args.attack,
            url,
            port,
            settle=2.0,
            seconds=args.seconds,
            connections=args.connections,
            drip=args.drip,
            clients=args.clients,
        )
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
    finally:
        server.terminate()
        server.wait(timeout=60)
    _report(args, result, stats, metrics)
    if args.home is None:
        shutil.rmtree(home, ignore_errors=True)


def _report(
    args: argparse.Namespace, result: dict[str, object], stats: ProbeStats, metrics: str
) -> None:
    print(f"attack {args.attack} for {args.seconds:g} s (server: {args.server_python})")
    print(f"attackers: {result}")
    tried = stats.predict_ok + len(stats.failures)
    print(f"new clients answered: {stats.predict_ok} of {tried}")
    if stats.live_ms:
        print(
            f"/health/live on a new connection: p50 {statistics.median(stats.live_ms):.1f} ms, "
            f"p99 {stats.percentile(0.99):.1f} ms, max {max(stats.live_ms):.1f} ms "
            f"(n={len(stats.live_ms)})"
        )
    for failure in sorted(set(stats.failures))[:5]:
        print(f"  failure: {failure}")
    for line in metrics.splitlines():
        counted = line.startswith("churnops_http_requests_total") and 'status="200"' not in line
        if counted or line.startswith("churnops_http_connections"):
            print(f"  {line}")


if __name__ == "__main__":
    main()
