"""PostgreSQL as the store, measured against SQLite in the same run.

    .venv/bin/python benchmarks/bench_postgres.py [--duration 10] [--rounds 3] \
        [--drift-rows 1000000] [--repeat 3] [--home DIR]

Starts a throw-away PostgreSQL cluster (Debian's binaries, as the tests do), trains v1 and v2
(default settings) twice: in a project folder with the file registry and in the database, then:

1. ``/predict`` throughput under wrk, one uvicorn worker each: the API logging to SQLite vs the
   same API logging to PostgreSQL (binary COPY). Rounds alternate; the median of the paired
   ratios is reported (target ≥ 0.9). After a graceful stop, the PostgreSQL log must hold one
   row per answered request.
2. Two replicas (one worker each, their own empty homes, the same database) under wrk while
   ``--switches`` promotes / rollbacks are committed from this process: for each, the time from
   the commit until both replicas answer with the new version (target ≤ 1 s), the non-2xx
   count, and after a graceful stop the logged rows vs the 2xx answers of both.
3. PostgreSQL away under wrk load, one replica: ``pg_ctl restart``, then the server stopped for
   ``--outage`` seconds (the default log bound, then ``--small-queue`` rows, so that rows are
   dropped). The API must answer every request with a 2xx without waiting for the log; after a
   graceful stop, the rows in PostgreSQL plus the rows the writer counted as dropped must equal
   the rows the API answered (its ``churnops_predictions`` counter), none failed.
4. ``churnops drift --json`` (fresh process, whole wall time) over ``--drift-rows`` logged rows
   in PostgreSQL, and over the same rows in SQLite (target ≤ 10 s for 1,000,000 rows). Give
   several sizes (``--drift-rows 1000000,5000000``) to see how it grows.

Needs ``wrk`` and PostgreSQL 15 (``apt-get install wrk postgresql``).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from bench_api import WRK_SCRIPT, WrkResult, metric_total, prepare_home, run_wrk, start, stop
from bench_drift import fill_log, measured

from churnops.database import logtable
from churnops.database.logtable import DAY_S
from churnops.database.migrations import upgrade
from churnops.database.url import DatabaseUrl
from churnops.registry.promotion import switch
from churnops.registry.store import open_registry
from churnops.schema import SEED_EXAMPLE
from churnops.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from postgres_support import Cluster, running_cluster  # noqa: E402  (the tests' cluster helper)

TARGET_RATIO, TARGET_DRIFT_S = 0.9, 10.0


def count_rows(url: DatabaseUrl) -> int:
    with psycopg.connect(url.value) as conn:
        found = conn.execute("SELECT count(*) FROM inference_log").fetchone()
    return int(found[0]) if found else 0


def throughput(
    homes: tuple[Path, Path], url: DatabaseUrl, args: argparse.Namespace, script: Path
) -> None:
    sqlite = start("sqlite-log", "churnops.api:app", homes[0])
    postgres = start(
        "postgres-log", "churnops.api:app", homes[1], env={"CHURNOPS_DATABASE_URL": url.value}
    )
    runs: dict[str, list[float]] = {"sqlite": [], "postgres": []}
    answered = 1  # the start-up probe
    try:
        for _ in range(args.rounds):
            for name, server in (("sqlite", sqlite), ("postgres", postgres)):
                result = run_wrk(f"{server.url}/predict", args.duration, script)
                runs[name].append(result.rps)
                if name == "postgres":
                    answered += result.requests - result.non_2xx
                    if result.non_2xx or result.socket_errors:
                        print(
                            f"  postgres round: {result.non_2xx} non-2xx, "
                            f"{result.socket_errors} socket errors"
                        )
    finally:
        stop(sqlite)
        stopped_in = stop(postgres)
    ratios = [p / s for p, s in zip(runs["postgres"], runs["sqlite"], strict=True)]
    ratio = statistics.median(ratios)
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(f"/predict req/s, SQLite log:     {[round(r) for r in runs['sqlite']]}")
    print(f"/predict req/s, PostgreSQL log: {[round(r) for r in runs['postgres']]}")
    print(
        f"median paired ratio PostgreSQL / SQLite: {ratio:.3f} (target ≥ {TARGET_RATIO}: {verdict})"
    )
    logged = count_rows(url)
    print(
        f"graceful stop in {stopped_in:.2f} s; PostgreSQL log rows {logged:,} vs answered "
        f"{answered:,} (wrk counts completed requests: equal, or the log holds a few more)"
    )


def switches(home: Path, url: DatabaseUrl, count: int, script: Path) -> None:
    """Promote / rollback ``count`` times under load; the delay until both replicas serve it."""
    settings = load_settings(home=home, database_url=url.value)
    with psycopg.connect(url.value, autocommit=True) as conn:
        conn.execute("TRUNCATE inference_log")
    env = {"CHURNOPS_DATABASE_URL": url.value}
    root = home.parent
    replicas = [
        start(f"replica-{n}", "churnops.api:app", root / f"replica-{n}", env=env) for n in "ab"
    ]
    duration = count * 2.0 + 5
    results: list[WrkResult] = []
    load = [
        threading.Thread(
            target=lambda r=r: results.append(run_wrk(f"{r.url}/predict", duration, script))
        )
        for r in replicas
    ]
    for thread in load:
        thread.start()
    delays = []
    try:
        time.sleep(2)
        for i in range(count):
            target = None if i % 2 == 0 else open_registry(settings).read().last_version
            action = "rollback" if i % 2 == 0 else "promote"
            _, entry = switch(settings, action, target, "benchmark")
            committed = time.monotonic()
            while any(_serving(r.url) != entry.version for r in replicas):
                time.sleep(0.005)
            delays.append(time.monotonic() - committed)
            time.sleep(0.5)
        mechanisms = {httpx.get(f"{r.url}/model-info").json()["last_swap_by"] for r in replicas}
    finally:
        for thread in load:
            thread.join()
        for replica in replicas:
            stop(replica)
    answered = sum(r.requests - r.non_2xx for r in results) + len(replicas)  # + start probes
    non_2xx = sum(r.non_2xx for r in results)
    quantiles = statistics.quantiles(delays, n=20) if len(delays) > 1 else delays
    verdict = "ok" if max(delays) <= 1.0 else "MISSED"
    print(
        f"{count} switches under load, commit → both replicas serving: median "
        f"{statistics.median(delays) * 1000:.0f} ms, p95 {quantiles[-1] * 1000:.0f} ms, max "
        f"{max(delays) * 1000:.0f} ms (target ≤ 1 s: {verdict}); swapped by {mechanisms}"
    )
    print(
        f"non-2xx: {non_2xx}; PostgreSQL log rows {count_rows(url):,} vs 2xx answers "
        f"{answered:,} (wrk does not count requests cut off at its end)"
    )


@dataclass(frozen=True)
class Outage:
    name: str
    interrupt: Callable[[Cluster], None]
    queue: int | None  # the log's bound (CHURNOPS_LOG_QUEUE_SIZE); None: the default


def outages(home: Path, url: DatabaseUrl, cluster: Cluster, args: argparse.Namespace) -> None:
    """The database restarted or stopped a while under load: answered = logged + dropped; and
    the slowest probe request while it was away, against a run where nothing happens."""

    def stopped(cluster: Cluster) -> None:
        cluster.stop()
        time.sleep(args.outage)
        cluster.start()

    default_bound = load_settings(home=home).log_queue_size
    for outage in (
        Outage("nothing (baseline)", lambda _: time.sleep(args.outage), None),
        Outage("pg_ctl restart", Cluster.restart, None),
        Outage(f"stopped {args.outage:g} s", stopped, None),
        Outage(f"stopped {args.outage:g} s", stopped, args.small_queue),
    ):
        bound = outage.queue or default_bound
        print(f"{outage.name} under load, log bound {bound:,} rows:", flush=True)
        _one_outage(home, url, cluster, outage, args)


class Probe(threading.Thread):
    """One request at a time beside wrk, timed: when each was sent and how long it took."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.done = threading.Event()
        self.timings: list[tuple[float, float, int]] = []  # (sent, seconds, status)

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.done.is_set():
                sent = time.monotonic()
                status = client.post(f"{self.url}/predict", json=dict(SEED_EXAMPLE)).status_code
                self.timings.append((sent, time.monotonic() - sent, status))
                time.sleep(0.01)

    def slowest(self, since: float, until: float) -> float:
        return max((s for at, s, _ in self.timings if since <= at <= until), default=0.0)


def _one_outage(
    home: Path, url: DatabaseUrl, cluster: Cluster, outage: Outage, args: argparse.Namespace
) -> None:
    with psycopg.connect(url.value, autocommit=True) as conn:
        conn.execute("TRUNCATE inference_log")
    env = {"CHURNOPS_DATABASE_URL": url.value}
    if outage.queue is not None:
        env["CHURNOPS_LOG_QUEUE_SIZE"] = str(outage.queue)
    server = start("outage", "churnops.api:app", home.parent / "outage", env=env)
    results: list[WrkResult] = []
    load = threading.Thread(
        target=lambda: results.append(
            run_wrk(f"{server.url}/predict", args.outage + 12.0, args.script)
        )
    )
    probe = Probe(server.url)
    try:
        load.start()
        probe.start()
        time.sleep(4)
        began = time.monotonic()
        outage.interrupt(cluster)
        away = time.monotonic() - began
        load.join()
        probe.done.set()
        probe.join()
        counters = {
            name: int(metric_total(server.url, f"churnops_{name}_total"))
            for name in ("predictions", "inference_log_rows_dropped", "inference_log_rows_failed")
        }
    finally:
        load.join()
        probe.done.set()
        stopped_in = stop(server)
    _show_outage(
        results[0],
        probe,
        (began, began + away + 2),  # + the writer's reconnection
        counters,
        count_rows(url),
        stopped_in,
    )


def _show_outage(
    wrk: WrkResult,
    probe: Probe,
    away: tuple[float, float],
    counters: dict[str, int],
    logged: int,
    stopped_in: float,
) -> None:
    answered, dropped = counters["predictions"], counters["inference_log_rows_dropped"]
    failed = counters["inference_log_rows_failed"]
    probe_errors = sum(status != 200 for _, _, status in probe.timings)
    ok = logged + dropped == answered and not wrk.non_2xx and not failed and not probe_errors
    print(
        f"  interruption took {away[1] - away[0] - 2:.1f} s; wrk: {wrk.requests:,} requests, "
        f"{wrk.non_2xx} non-2xx, {wrk.socket_errors} socket errors, p50 {wrk.p50_ms:.1f} ms, "
        f"p99 {wrk.p99_ms:.1f} ms; probe: {len(probe.timings)} requests, {probe_errors} "
        f"non-200, slowest {probe.slowest(*away) * 1000:.0f} ms during the interruption "
        f"(+2 s), {probe.slowest(0, away[0]) * 1000:.0f} ms before"
    )
    print(
        f"  answered {answered:,}; logged {logged:,} + dropped {dropped:,} = "
        f"{logged + dropped:,} ({'ok' if ok else 'MISSED'}); failed {failed}; graceful stop "
        f"in {stopped_in:.2f} s"
    )


def _serving(url: str) -> int | None:
    version: int | None = httpx.get(f"{url}/model-info", timeout=5).json().get("version")
    return version


def drift(homes: tuple[Path, Path], url: DatabaseUrl, sizes: list[int], repeat: int) -> None:
    """``churnops drift`` over each size; the smallest is generated and scored, the larger
    ones copy those rows (a day later each time) in the database itself, so 10M rows take
    minutes to write, not an hour."""
    files = load_settings(home=homes[0])
    in_database = load_settings(home=homes[1], database_url=url.value)
    with psycopg.connect(url.value, autocommit=True) as conn:
        conn.execute("TRUNCATE inference_log")
    base = min(sizes)
    began = time.monotonic()
    print(f"writing {base:,} scored rows into PostgreSQL and into SQLite…", flush=True)
    fill_log(in_database, base, "none", url)
    fill_log(files, base, "none")
    print(f"  in {time.monotonic() - began:.0f} s", flush=True)
    have = base
    for rows in sorted(sizes):
        if rows > have:
            began = time.monotonic()
            _grow_postgres(url, base, have, rows)
            _grow_sqlite(files.inference_db, base, have, rows)
            print(f"copied to {rows:,} rows in {time.monotonic() - began:.0f} s", flush=True)
            have = rows
        for name, home, env in (("PostgreSQL", homes[1], url.value), ("SQLite", homes[0], "")):
            walls = _drift_walls(home, env, repeat)
            target = ""
            if rows == 1_000_000:
                target = f" (target ≤ {TARGET_DRIFT_S:.0f} s: "
                target += ("ok" if statistics.median(walls) <= TARGET_DRIFT_S else "MISSED") + ")"
            print(
                f"churnops drift over {rows:,} rows in {name}: median "
                f"{statistics.median(walls):.2f} s, best {min(walls):.2f} s{target}",
                flush=True,
            )


def _drift_walls(home: Path, database_url: str, repeat: int) -> list[float]:
    """Whole-process wall times of ``churnops drift --json``, after one run not counted: the
    installed package's byte code is compiled, as it is after a first run anywhere (an
    environment setting PYTHONDONTWRITEBYTECODE would otherwise compile it every time)."""
    command = ["env", "-u", "PYTHONDONTWRITEBYTECODE", f"CHURNOPS_DATABASE_URL={database_url}"]
    command += [sys.executable, "-m", "churnops", "drift", "--home", str(home), "--json"]
    walls = []
    for _ in range(repeat + 1):
        wall, _, done = measured(command)
        if done.returncode not in (0, 1):
            raise SystemExit(f"churnops drift failed: {done.stderr}")
        walls.append(wall)
    return walls[1:]


def _copies(base: int, have: int, want: int) -> Iterator[tuple[int, int]]:
    """(copy number, rows) to go from ``have`` rows to ``want``, copying the first ``base``."""
    while have < want:
        rows = min(base, want - have)
        yield have // base, rows
        have += rows


def _grow_postgres(url: DatabaseUrl, base: int, have: int, want: int) -> None:
    with psycopg.connect(url.value, autocommit=True) as conn:
        names = [name for name in logtable.stored_columns(conn) if name != "id"]
        found = conn.execute(
            "SELECT min(ts), max(ts) FROM (SELECT ts FROM inference_log ORDER BY id LIMIT %s) AS b",
            (base,),
        ).fetchone()
        assert found is not None
        for copy, rows in _copies(base, have, want):
            shift = copy * DAY_S
            days = range(int((found[0] + shift) // DAY_S), int((found[1] + shift) // DAY_S) + 1)
            logtable.ensure_partitions(conn, days)
            conn.execute(_copy_query(names, "%s", rows).encode(), (shift, str(copy)))


def _grow_sqlite(path: Path, base: int, have: int, want: int) -> None:
    conn = sqlite3.connect(path)
    try:
        names = [row[1] for row in conn.execute("PRAGMA table_info(inference_log)")]
        names.remove("id")
        for copy, rows in _copies(base, have, want):
            with conn:
                conn.execute(_copy_query(names, "?", rows), (copy * DAY_S, str(copy)))
    finally:
        conn.close()


def _copy_query(names: list[str], mark: str, rows: int) -> str:
    """Append the first ``rows`` rows again, ``ts`` moved by the first parameter and the
    request id suffixed with the second (same SQL for both databases)."""
    changed = {"ts": f"ts + {mark}", "request_id": f"request_id || '.' || {mark}"}
    shown = ", ".join(f'"{name}"' for name in names)
    moved = ", ".join(changed.get(name, f'"{name}"') for name in names)
    return (
        f"INSERT INTO inference_log ({shown}) SELECT {moved} FROM inference_log "
        f"ORDER BY id LIMIT {int(rows)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--drift-rows", default="1000000", help="comma-separated sizes")
    parser.add_argument("--repeat", type=int, default=3, help="runs of churnops drift")
    parser.add_argument("--switches", type=int, default=20)
    parser.add_argument("--home", type=Path, help="a folder for the two projects")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds the server is down")
    parser.add_argument("--small-queue", type=int, default=2_000, help="a log bound to overflow")
    parser.add_argument(
        "--only", default="throughput,switches,outages,drift", help="comma-separated sections"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.drift_rows.split(",") if size]

    with tempfile.TemporaryDirectory() as tmp, running_cluster() as cluster:
        url = DatabaseUrl(cluster.create_database())
        upgrade(url)
        root = args.home or Path(tmp)
        homes = (root / "files", root / "database")
        prepare_home(homes[0])
        os.environ["CHURNOPS_DATABASE_URL"] = url.value  # the registry of homes[1]: the database
        try:
            prepare_home(homes[1])
        finally:
            del os.environ["CHURNOPS_DATABASE_URL"]
        script = Path(tmp) / "predict.lua"
        script.write_text(WRK_SCRIPT.format(body=json.dumps(dict(SEED_EXAMPLE))))
        args.script = script
        sections = set(args.only.split(","))
        if "throughput" in sections:
            throughput(homes, url, args, script)
        if "switches" in sections:
            switches(homes[1], url, args.switches, script)
        if "outages" in sections:
            outages(homes[1], url, cluster, args)
        if "drift" in sections:
            drift(homes, url, sizes, args.repeat)


if __name__ == "__main__":
    main()
