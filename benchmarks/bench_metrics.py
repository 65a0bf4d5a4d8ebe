"""What prometheus-client's multiprocess mode (``churnops serve --workers N``) costs a request,
measured against the in-memory registry (one worker) in the same run.

    .venv/bin/python benchmarks/bench_metrics.py [--home DIR] [--duration 10] [--rounds 3]

1. The request-path metric updates alone (``observe_request`` + ``count_predictions``, as the
   middleware and ``/predict`` call them), in a fresh process per mode: microseconds per
   request, median of ``--repeat`` runs of 100,000 calls.
2. ``/predict`` under wrk, one uvicorn worker each (each on its own copy of the project): the
   API with the in-memory registry vs the same API in multiprocess mode
   (``PROMETHEUS_MULTIPROC_DIR`` set, as ``churnops serve`` does for several workers). Rounds
   alternate (and which goes first); the median of the paired ratios is reported.

Needs ``wrk`` (Debian: ``apt-get install wrk``); trains v1 and v2 in a scratch project folder
(default settings) unless ``--home`` already has them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_api import WRK_SCRIPT, prepare_home, run_wrk, start, stop

from churnops.cli.serve_cmds import GUARDED_HTTP
from churnops.schema import SEED_EXAMPLE

CALLS = 100_000
HOT_PATH = f"""
import time
from pathlib import Path
from churnops.serving.metrics import ServingMetrics
from churnops.serving.worker_metrics import metrics_folder

metrics = ServingMetrics(None, None, Path("none.json"), worker_files=metrics_folder())
began = time.perf_counter()
for _ in range({CALLS}):
    metrics.observe_request("POST", "/predict", 200, 0.0012)
    metrics.count_predictions(1, 1)
print((time.perf_counter() - began) / {CALLS} * 1e6)
"""


def hot_path_us(multiprocess: bool, repeat: int) -> float:
    """Median microseconds per request of the metric updates, in a fresh process."""
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-metrics-") as folder:
            env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            if multiprocess:
                env["PROMETHEUS_MULTIPROC_DIR"] = folder
            out = subprocess.run(
                [sys.executable, "-c", HOT_PATH], env=env, capture_output=True, text=True
            )
            if out.returncode:
                raise SystemExit(out.stderr)
            runs.append(float(out.stdout))
    return statistics.median(runs)


def throughput(home: Path, args: argparse.Namespace, script: Path) -> dict[str, list[float]]:
    """Each server on its own copy of ``home`` (own log); the first of a round alternates."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    homes = {name: scratch / name for name in ("in-memory", "multiprocess")}
    for copy in homes.values():
        shutil.copytree(home, copy)
    (scratch / "files").mkdir()
    servers = {
        "in-memory": start("in-memory", "churnops.api:app", homes["in-memory"], http=GUARDED_HTTP),
        "multiprocess": start(
            "multiprocess",
            "churnops.api:app",
            homes["multiprocess"],
            http=GUARDED_HTTP,
            env={"PROMETHEUS_MULTIPROC_DIR": str(scratch / "files")},
        ),
    }
    runs: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for round_ in range(args.rounds):
            order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
            for name in order:
                result = run_wrk(f"{servers[name].url}/predict", args.duration, script)
                runs[name].append(result.rps)
    finally:
        for server in servers.values():
            stop(server)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="project folder (default: a scratch folder)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=4, help="alternations of the two servers")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the hot-path loop")
    args = parser.parse_args()
    in_memory_us = hot_path_us(False, args.repeat)
    multiprocess_us = hot_path_us(True, args.repeat)
    print(
        f"metric updates per request ({CALLS:,} calls, median of {args.repeat} runs): "
        f"in-memory {in_memory_us:.2f} µs, multiprocess {multiprocess_us:.2f} µs"
    )
    home = args.home or Path(tempfile.mkdtemp(prefix="churnops-bench-"))
    prepare_home(home)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(WRK_SCRIPT.format(body=json.dumps(dict(SEED_EXAMPLE))))
    runs = throughput(home, args, Path(handle.name))
    ratios = [m / i for m, i in zip(runs["multiprocess"], runs["in-memory"], strict=True)]
    print(f"/predict req/s, one worker, wrk -t1 -c8 -d{args.duration:g}s, alternated:")
    for name, values in runs.items():
        print(f"  {name:13} {[round(v) for v in values]} median {statistics.median(values):.0f}")
    print(f"multiprocess / in-memory: median of the paired ratios {statistics.median(ratios):.1%}")


if __name__ == "__main__":
    main()
