"""Benchmark the API on two feature schemas, and swaps between them under wrk load.

    .venv/bin/python benchmarks/bench_api_schemas.py [--home DIR] [--duration 10] [--rounds 3]

Needs ``wrk`` (Debian: ``apt-get install wrk``). Builds (unless ``--home`` has it) a project
with v1 on the built-in schema (5 features; 10,000 synthetic customers) and v2 on the
telecom table of ``tests/schemas_support.py`` (19 features, CamelCase export; 7,000 rows),
both with the default model settings (200 trees, depth 8), then, each server being one
uvicorn worker on loopback with the HTTP protocol `churnops serve` uses:

1. ``/predict`` throughput of the 5-feature model vs the 19-feature one (one server each, a
   customer row of its own schema as the body), alternated ``--rounds`` times: the median of
   the per-round ratios is reported;
2. promotions and rollbacks between the two versions while wrk loads ``/predict`` with one
   body valid for both (each version ignores the fields it does not take): wrk's non-2xx
   count, and — after a graceful stop — every logged answer checked against what its version
   gives that body, computed outside the API.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
from bench_api import (
    CONNECTIONS,
    GUARDED_HTTP,
    ROOT,
    WRK_SCRIPT,
    Server,
    WrkResult,
    prepare_home,
    run_wrk,
    start,
    stop,
)

from churnops import logstore
from churnops.registry.promotion import switch
from churnops.registry.store import Registry
from churnops.schema import SEED_EXAMPLE
from churnops.settings import Settings, load_settings

sys.path.insert(0, str(ROOT / "tests"))
from serving_support import body_for_both, register_other_schema, scored_by, table_schema

TELECOM_ROWS = 7_000
SWAPS = (("promote", 2), ("rollback", 1), ("promote", 2), ("rollback", 1))


def prepare_project(home: Path) -> Settings:
    """v1 (built-in schema) current, v2 (telecom) registered."""
    settings = prepare_home(home)  # v1 and v2 on the built-in schema, v2 current
    registry = Registry(settings)
    if not (home / "telecom.yaml").exists():
        print("training the telecom version (19 features) …", flush=True)
        switch(settings, "rollback", 1, "benchmark setup")
        register_other_schema(home, "telecom", trees=settings.n_estimators, rows=TELECOM_ROWS)
    if registry.read().current_version != 1:
        switch(settings, "rollback", 1, "benchmark setup")
    return settings


def telecom_version(settings: Settings) -> int:
    return max(v.version for v in Registry(settings).read().versions)


def telecom_row(home: Path) -> dict[str, Any]:
    """A real customer of the telecom table, by feature name (as ``prepare`` cleaned it)."""
    schema = table_schema(home, "telecom")
    frame = pd.read_csv(home / "data" / "processed.csv").head(1)
    row = json.loads(frame[schema.feature_names].to_json(orient="records"))[0]
    for name in schema.int_names:
        row[name] = int(row[name])
    return dict(row)


def wrk_script(body: dict[str, Any], folder: Path, name: str) -> Path:
    path = folder / f"{name}.lua"
    path.write_text(WRK_SCRIPT.format(body=json.dumps(body)))
    return path


def throughput(
    servers: dict[str, Server], scripts: dict[str, Path], args: argparse.Namespace
) -> dict[str, Any]:
    rounds: dict[str, list[WrkResult]] = {"five": [], "telecom": []}
    for _ in range(args.rounds):
        for name in rounds:
            url = f"{servers[name].url}/predict"
            rounds[name].append(run_wrk(url, args.duration, scripts[name]))
    ratios = [t.rps / f.rps for t, f in zip(rounds["telecom"], rounds["five"], strict=True)]
    return {"rounds": rounds, "paired_ratio": statistics.median(ratios)}


def swaps_under_load(
    settings: Settings, script: Path, args: argparse.Namespace, telecom: int
) -> dict[str, Any]:
    """wrk on one server while the registry switches versions; the server is then stopped
    gracefully so that its log holds every answer."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.inference_db}{suffix}").unlink(missing_ok=True)
    server = start("swaps", "churnops.api:app", settings.home, http=GUARDED_HTTP)
    duration = args.duration * len(SWAPS)
    box: dict[str, WrkResult] = {}
    loader = threading.Thread(
        target=lambda: box.setdefault("r", run_wrk(f"{server.url}/predict", duration, script))
    )
    loader.start()
    for action, version in SWAPS:
        time.sleep(duration / (len(SWAPS) + 1))
        target = telecom if version == 2 else 1
        switch(settings, action, target, f"benchmark: {action} under load", force=True)
    loader.join()
    stop(server)
    return {"wrk": box["r"], "log": logstore.read(settings.inference_db, schema=None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="project folder (default: a scratch folder)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="5-feature/19-feature alternations")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    home = args.home or Path(tempfile.mkdtemp(prefix="churnops-bench-schemas-"))
    settings = prepare_project(home)
    telecom = telecom_version(settings)
    folder = Path(tempfile.mkdtemp(prefix="churnops-wrk-"))
    promoted = folder / "telecom-home"
    shutil.copytree(home, promoted)
    switch(load_settings(home=promoted), "promote", telecom, "benchmark: serve the telecom model")
    bodies = {"five": dict(SEED_EXAMPLE), "telecom": telecom_row(home)}
    scripts = {name: wrk_script(body, folder, name) for name, body in bodies.items()}
    servers: dict[str, Server] = {}
    try:
        servers["five"] = start("five", "churnops.api:app", home, http=GUARDED_HTTP)
        servers["telecom"] = start(
            "telecom", "churnops.api:app", promoted, http=GUARDED_HTTP, probe=bodies["telecom"]
        )
        measured = throughput(servers, scripts, args)
    finally:
        for server in servers.values():
            stop(server)
    both = body_for_both(table_schema(home, "telecom"))
    truth = scored_by(settings, both)
    swapped = swaps_under_load(settings, wrk_script(both, folder, "both"), args, telecom)
    report(measured, swapped, truth, telecom, args)


def report(
    measured: dict[str, Any],
    swapped: dict[str, Any],
    truth: dict[int, float],
    telecom: int,
    args: argparse.Namespace,
) -> None:
    rounds: dict[str, list[WrkResult]] = measured["rounds"]
    print(f"\nwrk -t1 -c{CONNECTIONS} -d{args.duration:g}s, one uvicorn worker each")
    for name, label in (("five", "5 features (built-in)"), ("telecom", "19 features (telecom)")):
        rps = [round(r.rps) for r in rounds[name]]
        middle = sorted(rounds[name], key=lambda r: r.rps)[len(rps) // 2]
        print(
            f"/predict, {label:22} req/s per round {rps}, median round p50 "
            f"{middle.p50_ms:.2f} ms, p99 {middle.p99_ms:.2f} ms, non-2xx "
            f"{sum(r.non_2xx + r.socket_errors for r in rounds[name])}"
        )
    ratio = measured["paired_ratio"]
    print(f"19-feature / 5-feature req/s, median of per-round ratios: {ratio:.0%}")
    wrk: WrkResult = swapped["wrk"]
    log: pd.DataFrame = swapped["log"]
    expected = log["model_version"].map(truth)
    wrong = int((abs(log["probability"] - expected) > 1e-6).sum())
    served = log["model_version"].value_counts().sort_index().to_dict()
    print(
        f"{len(SWAPS)} swaps v1 (5 features) <-> v{telecom} (19 features) under wrk "
        f"({wrk.rps:.0f} req/s): {wrk.requests:,} requests, non-2xx {wrk.non_2xx}, socket errors "
        f"{wrk.socket_errors}; logged {len(log):,} answers {served}, wrong probabilities: {wrong}"
    )


if __name__ == "__main__":
    main()
