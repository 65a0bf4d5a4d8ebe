"""Scoring the whole base: which scorer is fastest for the default forest, and what
`churnops score` costs on one machine and on a local Spark.

Sections (all by default):

- ``scorers``: the default forest (200 trees, depth 8, trained here by the project's own
  generate → prepare → train) on 1,000,000 encoded rows: scikit-learn's ``predict_proba``
  (1 and 2 threads, 2 worker processes), ONNX Runtime on the graph churnops exports (one
  output: a single-target ensemble) and on skl2onnx's two-class graph it exported before,
  with its session options (1/2 intra-op threads, graph optimisation off/all,
  sequential/parallel execution, 2 worker processes). Candidates run interleaved, --rounds
  times; the median is reported with its ratio to scikit-learn on 2 threads, and each is
  checked equal to the registered model (≤ 1e-5).
- ``local``: `churnops score` (a fresh process) against a naive baseline (a fresh process:
  pandas reads the whole input, the registered pipeline's ``predict_proba`` on both cores),
  on 1M and 10M rows of Parquet part files, alternated --local-rounds times (median): rows/s,
  ratio, and peak memory of the whole process tree (the command, its workers' fork server and
  the workers), sampled from /proc every 0.1 s, two ways: the sum of each process's RSS, which
  counts the pages the workers share with their fork server (libraries, imported modules) once
  per process, and the sum of PSS (``/proc/PID/smaps_rollup``), which splits each shared page
  between the processes sharing it — the job's real footprint. The baseline is one process,
  where the two are the same. Also the CPU seconds the tree used: on a busy machine the wall
  time is mostly waiting for a core, and the CPU time says which run does less work.

Every subprocess runs as an installed package does, from compiled bytecode: this machine's
environment sets PYTHONDONTWRITEBYTECODE and its virtualenv holds no bytecode, which would add
seconds of compiling to every process start (more for ``score``, which starts two processes
importing more modules). The bytecode goes to --cache (``PYTHONPYCACHEPREFIX``), filled by one
unreported run of each command on 10,000 rows.
- ``spark``: `churnops score --engine spark` on local[1] and local[2] over the 1M rows as 8
  part files (Spark makes a task of a Parquet row group: the 1M-row file is one), against the
  single-machine run on the same files; the same ids and probabilities within 1e-6.

The inputs are generated once, in 1M-row chunks, into --cache (reused by later runs).

    python benchmarks/bench_score.py [--sections scorers local spark] [--rounds 3]
        [--sizes 1000000 10000000] [--local-rounds 1] [--cache /tmp/churnops-bench-score]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnxruntime as ort
import pandas as pd

from churnops import workflow
from churnops.data.generate import generate
from churnops.model.export import two_class
from churnops.model.onnx_model import PROBABILITY_OUTPUT
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA
from churnops.settings import load_settings

CHUNK = 1_000_000
CHURNOPS = str(Path(sys.executable).with_name("churnops"))
BASELINE = r"""
import sys, joblib, pandas as pd
pipeline = joblib.load(sys.argv[1])
frame = pd.read_parquet(sys.argv[2])
proba = pipeline.predict_proba(frame[pipeline.feature_names_in_])[:, 1]
pd.DataFrame({"customer_id": frame["customer_id"], "probability": proba}).to_parquet(sys.argv[3])
"""


# ---- the model and the data ---------------------------------------------------------------


def trained_home(folder: Path) -> Path:
    """A project home whose current version is the default forest (the cache keeps it; one
    exported as churnops exported before is trained again)."""
    home = folder / "home"
    if (home / "registry" / "metadata.json").exists() and not _single_output(home):
        shutil.rmtree(home)
    settings = load_settings(home=home)
    if not (home / "registry" / "metadata.json").exists():
        workflow.generate_step(settings)
        workflow.prepare_step(settings)
        workflow.train_step(settings)
    return home


def _single_output(home: Path) -> bool:
    """Whether the current version was exported as churnops exports now (else train again)."""
    registry = Registry(load_settings(home=home))
    entry = registry.read().current
    graph = ort.InferenceSession(registry.onnx_path(entry).read_bytes()) if entry else None
    return graph is not None and graph.get_outputs()[0].name == PROBABILITY_OUTPUT


def base_folder(cache: Path, rows: int) -> Path:
    """``rows`` clean customers (no label) as Parquet part files of 1M rows, made once."""
    folder = cache / f"base-{rows}"
    if not folder.exists():
        partial = cache / f".base-{rows}.partial"
        partial.mkdir(parents=True, exist_ok=True)
        for chunk in range(0, rows, CHUNK):
            frame = generate(min(CHUNK, rows - chunk), seed=1_000 + chunk // CHUNK, dirt=False)
            part = frame.frame.drop(columns=["churn"])
            part["customer_id"] = f"P{chunk // CHUNK:03d}-" + part["customer_id"]
            part.to_parquet(partial / f"part-{chunk // CHUNK:05d}.parquet", index=False)
        partial.rename(folder)
    return folder


# ---- scorers -------------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _start(kind: str, payload: bytes) -> None:
    if kind == "sklearn":
        forest = joblib.load(__import__("io").BytesIO(payload))[-1]
        forest.set_params(n_jobs=1)
        _worker["predict"] = lambda m: forest.predict_proba(m)[:, 1]
    else:
        session = ort_session(1, ort.GraphOptimizationLevel.ORT_ENABLE_ALL, False, payload)
        _worker["predict"] = churn_of(session)


def _predict(block: np.ndarray) -> np.ndarray:
    result: np.ndarray = _worker["predict"](block)
    return result


def ort_session(
    threads: int, level: ort.GraphOptimizationLevel, parallel: bool, graph: bytes
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = level
    options.execution_mode = (
        ort.ExecutionMode.ORT_PARALLEL if parallel else ort.ExecutionMode.ORT_SEQUENTIAL
    )
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def churn_of(session: ort.InferenceSession) -> Callable[[np.ndarray], np.ndarray]:
    """The churn probabilities of a session's graph: the one output of the graph churnops
    exports, the second column of skl2onnx's two-class graph."""
    names = [output.name for output in session.get_outputs()]
    name, column = (PROBABILITY_OUTPUT, 0) if PROBABILITY_OUTPUT in names else (names[1], 1)
    return lambda m: session.run([name], {"features": m})[0][:, column]


def in_chunks(predict: Callable[[np.ndarray], np.ndarray], matrix: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [predict(matrix[i : i + 100_000]) for i in range(0, len(matrix), 100_000)]
    )


def scorers(home: Path, rows: int, rounds: int) -> None:
    registry = Registry(load_settings(home=home))
    entry = registry.read().current
    assert entry is not None
    pipeline_bytes = registry.artifact_path(entry).read_bytes()
    graph = registry.onnx_path(entry).read_bytes()
    pipeline = joblib.load(registry.artifact_path(entry))
    frame = generate(rows, seed=7, dirt=False).frame
    expected = pipeline.predict_proba(frame[DEFAULT_SCHEMA.feature_names])[:, 1]
    matrix = DEFAULT_SCHEMA.encode(frame).astype(np.float32)
    forest = pipeline[-1]
    two_classes = bytes(two_class(forest, len(DEFAULT_SCHEMA.encoded_names)).SerializeToString())

    def sklearn(threads: int) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            forest.set_params(n_jobs=threads)
            return np.asarray(forest.predict_proba(matrix)[:, 1])

        return run

    def onnx(
        threads: int, level: ort.GraphOptimizationLevel, parallel: bool, of: bytes = graph
    ) -> Callable[[], np.ndarray]:
        return lambda: in_chunks(churn_of(ort_session(threads, level, parallel, of)), matrix)

    pools = {
        kind: ProcessPoolExecutor(2, initializer=_start, initargs=(kind, payload))
        for kind, payload in (("sklearn", pipeline_bytes), ("onnx", graph))
    }
    for pool in pools.values():  # start the workers before timing, as `score` does once
        list(pool.map(_predict, [matrix[:10]] * 2))

    def processes(kind: str) -> Callable[[], np.ndarray]:
        blocks = [matrix[i : i + 100_000] for i in range(0, len(matrix), 100_000)]
        return lambda: np.concatenate(list(pools[kind].map(_predict, blocks)))

    off, full = (
        ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    )
    candidates: dict[str, Callable[[], np.ndarray]] = {
        "scikit-learn predict_proba, 2 threads": sklearn(2),
        "scikit-learn predict_proba, 1 thread": sklearn(1),
        "scikit-learn, 2 worker processes x 1 thread": processes("sklearn"),
        "ONNX Runtime 1 thread, two-class graph (before)": onnx(1, full, False, two_classes),
        "ONNX Runtime 2 threads, two-class graph (before)": onnx(2, full, False, two_classes),
        "ONNX Runtime 1 thread, optimisation off, sequential": onnx(1, off, False),
        "ONNX Runtime 1 thread, optimisation all, sequential": onnx(1, full, False),
        "ONNX Runtime 1 thread, optimisation all, parallel": onnx(1, full, True),
        "ONNX Runtime 2 threads, optimisation off, sequential": onnx(2, off, False),
        "ONNX Runtime 2 threads, optimisation all, sequential": onnx(2, full, False),
        "ONNX Runtime 2 threads, optimisation all, parallel": onnx(2, full, True),
        "ONNX Runtime, 2 worker processes x 1 thread": processes("onnx"),
    }
    times: dict[str, list[float]] = {name: [] for name in candidates}
    diffs: dict[str, float] = {}
    for _ in range(rounds):
        for name, run in candidates.items():
            start = time.perf_counter()
            got = run()
            times[name].append(time.perf_counter() - start)
            diffs[name] = float(np.max(np.abs(got - expected)))
    for pool in pools.values():
        pool.shutdown()
    base = statistics.median(times["scikit-learn predict_proba, 2 threads"])
    print(
        f"\nscorers: default forest ({len(forest.estimators_)} trees, depth "
        f"{forest.max_depth}), {rows:,} rows, median of {rounds} interleaved rounds"
    )
    print(f"| {'scorer':<53} | {'seconds':>7} | {'vs sklearn 2 thr':>16} | {'max |Δp|':>8} |")
    print(f"|{'-' * 55}|{'-' * 9}|{'-' * 18}|{'-' * 10}|")
    for name in sorted(candidates, key=lambda n: statistics.median(times[n])):
        median = statistics.median(times[name])
        equal = "" if diffs[name] <= 1e-5 else " NOT EQUAL"
        print(
            f"| {name:<53} | {median:7.2f} | {base / median:15.2f}x | {diffs[name]:8.1e} |{equal}"
        )


# ---- whole runs in fresh processes -----------------------------------------------------------


def _tree(root: int) -> set[int]:
    """``root`` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return tree


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used so far (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory(pid: int) -> tuple[int, int]:
    """RSS and PSS of ``pid`` in bytes (0, 0 once it has gone)."""
    found = {"Rss:": 0, "Pss:": 0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, *value = line.split()
            if key in found:
                found[key] = int(value[0]) * 1024
    except OSError:
        pass
    return found["Rss:"], found["Pss:"]


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss: int  # the largest sum of the tree's RSS seen
    peak_pss: int  # the largest sum of the tree's PSS seen
    cpu_seconds: float  # CPU used by the tree's processes (as last sampled, every 0.1 s)


def measured(command: list[str], env: dict[str, str] | None = None) -> Measured:
    """Seconds and peak memory of ``command`` and its process tree."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak_rss = peak_pss = 0
    cpu: dict[int, float] = {}
    while process.poll() is None:
        tree = _tree(process.pid)
        sizes = [_memory(pid) for pid in tree]
        peak_rss = max(peak_rss, sum(rss for rss, _ in sizes))
        peak_pss = max(peak_pss, sum(pss for _, pss in sizes))
        cpu |= {pid: max(cpu.get(pid, 0.0), _cpu_seconds(pid)) for pid in tree}
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{command[:3]} failed: {process.communicate()[1].decode()[-2000:]}")
    return Measured(seconds, peak_rss, peak_pss, sum(cpu.values()))


def bytecode_env(cache: Path) -> dict[str, str]:
    """The environment of an installed package: bytecode compiled once, kept in ``cache``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache / "pycache")
    return env


def local_runs(home: Path, folder: Path, out: Path, rows: int) -> dict[str, list[str]]:
    registry = Registry(load_settings(home=home))
    entry = registry.read().current
    assert entry is not None
    return {
        "naive baseline": [
            sys.executable,
            "-c",
            BASELINE,
            str(registry.artifact_path(entry)),
            str(folder),
            f"{out}/baseline-{rows}.parquet",
        ],
        "churnops score": [
            CHURNOPS,
            "score",
            "--home",
            str(home),
            "--input",
            str(folder),
            "--output",
            f"{out}/score-{rows}.parquet",
            "--overwrite",
        ],
    }


def local(home: Path, cache: Path, sizes: list[int], rounds: int) -> None:
    env = bytecode_env(cache)
    print(
        "\none machine: `churnops score` vs pandas + pipeline.predict_proba (fresh processes, "
        f"median of {rounds} alternated round(s); memory: peak of the process tree)"
    )
    print(
        f"| {'rows':>10} | {'run':<26} | {'seconds':>7} | {'rows/s':>9} | {'CPU s':>7} "
        f"| {'RSS, summed':>11} | {'PSS, summed':>11} |"
    )
    print(f"|{'-' * 12}|{'-' * 28}|{'-' * 9}|{'-' * 11}|{'-' * 9}|{'-' * 13}|{'-' * 13}|")
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        out = Path(tmp)
        for command in local_runs(home, base_folder(cache, 10_000), out, 10_000).values():
            measured(command, env)  # fills the bytecode cache
        for rows in sizes:
            runs = local_runs(home, base_folder(cache, rows), out, rows)
            results: dict[str, list[Measured]] = {name: [] for name in runs}
            for _ in range(rounds):
                for name, command in runs.items():
                    results[name].append(measured(command, env))
            seconds = {
                name: statistics.median(m.seconds for m in got) for name, got in results.items()
            }
            for name, got in results.items():
                rss = max(m.peak_rss for m in got) / 2**20
                pss = max(m.peak_pss for m in got) / 2**20
                cpu = statistics.median(m.cpu_seconds for m in got)
                print(
                    f"| {rows:>10,} | {name:<26} | {seconds[name]:7.1f} "
                    f"| {rows / seconds[name]:9,.0f} | {cpu:7.1f} "
                    f"| {rss:7,.0f} MiB | {pss:7,.0f} MiB |"
                )
            ratio = seconds["naive baseline"] / seconds["churnops score"]
            print(f"| {rows:>10,} | {'score rows/s ÷ baseline':<26} | {ratio:7.2f} | | | | |")
            same = _same(f"{tmp}/baseline-{rows}.parquet", f"{tmp}/score-{rows}.parquet")
            print(f"|            | max |Δp| score vs baseline  | {same:.1e} | | | | |")
            print(f"load average after {rows:,} rows: {Path('/proc/loadavg').read_text().strip()}")


def _same(first: str, second: str) -> float:
    a = pd.read_parquet(first).sort_values("customer_id", ignore_index=True)
    b = pd.read_parquet(second, columns=["customer_id", "probability"])
    b = b.sort_values("customer_id", ignore_index=True)
    assert a["customer_id"].tolist() == b["customer_id"].tolist(), "different customers"
    return float(np.max(np.abs(a["probability"] - b["probability"])))


def spark_folder(cache: Path, parts: int = 8) -> Path:
    """The 1M rows of ``base_folder`` as ``parts`` part files: Spark makes one task of a
    Parquet row group, and the 1M-row file is one row group, so one core would do all the work
    whatever the master."""
    folder = cache / f"spark-{CHUNK}-{parts}"
    if not folder.exists():
        partial = cache / f".spark-{CHUNK}-{parts}.partial"
        partial.mkdir(parents=True, exist_ok=True)
        frame = pd.read_parquet(base_folder(cache, CHUNK))
        for index, part in enumerate(np.array_split(np.arange(len(frame)), parts)):
            frame.iloc[part].to_parquet(partial / f"part-{index:05d}.parquet", index=False)
        partial.rename(folder)
    return folder


def spark(home: Path, cache: Path) -> None:
    env = bytecode_env(cache)
    folder = spark_folder(cache)
    print(f"\nSpark (local mode) vs one machine, {CHUNK:,} rows in 8 files (fresh processes)")
    print(f"| {'run':<30} | {'seconds':>7} | {'rows/s':>9} | {'vs one machine':>14} |")
    print(f"|{'-' * 32}|{'-' * 9}|{'-' * 11}|{'-' * 16}|")
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        common = [CHURNOPS, "score", "--home", str(home), "--input", str(folder)]
        runs = {
            "churnops score (one machine)": [*common, "--output", f"{tmp}/local.parquet"],
            "--engine spark, local[1]": [
                *common,
                "--output",
                f"{tmp}/spark1",
                "--engine",
                "spark",
                "--spark-master",
                "local[1]",
            ],
            "--engine spark, local[2]": [
                *common,
                "--output",
                f"{tmp}/spark2",
                "--engine",
                "spark",
                "--spark-master",
                "local[2]",
            ],
        }
        seconds = {name: measured(command, env).seconds for name, command in runs.items()}
        base = seconds["churnops score (one machine)"]
        for name, value in seconds.items():
            print(f"| {name:<30} | {value:7.1f} | {CHUNK / value:9,.0f} | {value / base:13.2f}x |")
        for name in ("spark1", "spark2"):
            print(
                f"max |Δp| one machine vs {name}: "
                f"{_same(f'{tmp}/local.parquet', f'{tmp}/{name}'):.1e} (same ids)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sections", nargs="+", default=["scorers", "local", "spark"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[CHUNK, 10 * CHUNK])
    parser.add_argument("--local-rounds", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/churnops-bench-score"))
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    home = trained_home(args.cache)
    if "scorers" in args.sections:
        scorers(home, CHUNK, args.rounds)
    if "local" in args.sections:
        local(home, args.cache, args.sizes, args.local_rounds)
    if "spark" in args.sections:
        spark(home, args.cache)


if __name__ == "__main__":
    main()
