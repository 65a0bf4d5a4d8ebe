"""Drift monitor at scale: 1,000,000 logged rows → complete JSON drift report, beside Evidently.

For each scenario (unshifted traffic, and a 10 % price increase) the script writes 1,000,000
rows scored by a real model into a temporary inference log (SQLite, through
``churnops.logstore``), then times ``churnops drift --json`` in a fresh process and reads that
process's peak RSS. In the same run, Evidently's default ``DataDriftPreset`` judges the same
reference (the registry's reference sample) and current rows. Evidently is not a churnops
dependency: on first run the script creates ``benchmarks/.venv-evidently`` and installs it there.

Targets (issue 4): ≤ 10 s wall and ≤ 1.5 GB peak RSS for our report on 1M rows.

    python benchmarks/bench_drift.py [--rows 1000000] [--repeat 3] [--no-evidently]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnops import logstore, workflow
from churnops.database.url import DatabaseUrl
from churnops.model.onnx_model import OnnxModel
from churnops.monitoring.results import DriftReport
from churnops.monitoring.simulate import simulated_frame
from churnops.registry.store import open_registry
from churnops.schema import DEFAULT_SCHEMA
from churnops.serving.log_sinks import open_sink
from churnops.settings import Settings, load_settings

HERE = Path(__file__).resolve().parent
EVIDENTLY_VENV = HERE / ".venv-evidently"
EVIDENTLY_PACKAGES = ("evidently==0.7.23", "pandas<3")  # Evidently 0.7 does not import on pandas 3
TARGET_SECONDS, TARGET_MB = 10.0, 1_500
SCENARIOS = ("none", "price-increase")


def measured(command: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall seconds and peak RSS (MB) of ``command``, run by a fresh helper process so the
    child-rusage high-water mark belongs to this command alone."""
    probe = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'wall': wall, 'rss': rss, 'code': p.returncode, 'out': p.stdout,"
        " 'err': p.stderr}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True
    )
    data = json.loads(done.stdout)
    result = subprocess.CompletedProcess(command, data["code"], data["out"], data["err"])
    return data["wall"], data["rss"], result


def trained_home(root: Path) -> Settings:
    settings = load_settings(home=root / "home")
    workflow.generate_step(settings)
    workflow.prepare_step(settings)
    workflow.train_step(settings)
    return settings


def fill_log(
    settings: Settings, rows: int, shift: str, location: Path | DatabaseUrl | None = None
) -> pd.DataFrame:
    """``rows`` generated customers (shifted), scored by v1, written to the inference log at
    ``location`` (default: a fresh SQLite log under home) as the API's writer does."""
    if location is None:
        settings.inference_db.unlink(missing_ok=True)
        location = settings.inference_db
    frame = simulated_frame(rows, 2024, shift)
    registry = open_registry(settings)
    entry = registry.require(registry.read(), 1)
    model = OnnxModel.load(registry.onnx_path(entry), DEFAULT_SCHEMA)
    probabilities = np.concatenate(
        [model.predict_frame(frame.iloc[i : i + 100_000]) for i in range(0, rows, 100_000)]
    )
    start = time.time() - 86_400
    names = DEFAULT_SCHEMA.feature_names
    sink = open_sink(location)
    sink.open()
    sink.ensure_columns(DEFAULT_SCHEMA)
    try:
        for offset in range(0, rows, 200_000):
            part = frame.iloc[offset : offset + 200_000]
            columns = [part[name].tolist() for name in names]
            batch = [
                (
                    start + (offset + i) * 86_400 / rows,
                    uuid.uuid4().hex,
                    customer,
                    1,
                    *features,
                    float(p),
                    int(p >= 0.5),
                    1.0,
                )
                for i, (customer, *features, p) in enumerate(
                    zip(
                        part["customer_id"],
                        *columns,
                        probabilities[offset : offset + len(part)],
                        strict=True,
                    )
                )
            ]
            sink.insert(DEFAULT_SCHEMA, logstore.prediction_columns(), batch)
    finally:
        sink.close()
    return frame[names]


def evidently_python() -> Path:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {EVIDENTLY_VENV} with {' '.join(EVIDENTLY_PACKAGES)} (first run only)…")
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *EVIDENTLY_PACKAGES], check=True
        )
    return python


def ours(settings: Settings, repeat: int) -> dict[str, Any]:
    """``churnops drift --json`` in fresh processes: median and best wall of ``repeat`` runs
    (the machine is shared and noisy), the largest peak RSS, and the last report."""
    command = [sys.executable, "-m", "churnops", "drift", "--home", str(settings.home), "--json"]
    walls, peaks = [], []
    for _ in range(repeat):
        wall, rss, done = measured(command)
        if done.returncode not in (0, 1):
            raise SystemExit(f"churnops drift failed ({done.returncode}): {done.stderr}")
        walls.append(wall)
        peaks.append(rss)
    started = time.perf_counter()
    logstore.read(
        settings.inference_db,
        fields=["ts", "model_version", "probability", *DEFAULT_SCHEMA.feature_names],
    )
    read_s = time.perf_counter() - started
    return {
        "wall": statistics.median(walls),
        "best": min(walls),
        "rss": max(peaks),
        "read": read_s,
        "report": DriftReport.from_json(done.stdout),
    }


def evidently(python: Path, reference: Path, current: Path) -> dict[str, Any]:
    script = str(HERE / "evidently_drift.py")
    wall, rss, done = measured([str(python), script, str(reference), str(current)])
    if done.returncode != 0:
        raise SystemExit(f"Evidently failed: {done.stderr[-2000:]}")
    return {"wall": wall, "rss": rss, **json.loads(done.stdout)}


def show(scenario: str, rows: int, mine: dict[str, Any], theirs: dict[str, Any] | None) -> None:
    report: DriftReport = mine["report"]
    print(f"\n=== scenario: {scenario} — {rows:,} logged rows vs the v1 reference sample ===")
    verdict = "ok" if mine["wall"] <= TARGET_SECONDS and mine["rss"] <= TARGET_MB else "MISSED"
    print(
        f"churnops drift (CLI, fresh process): median {mine['wall']:.2f} s wall, best "
        f"{mine['best']:.2f} s (logstore.read alone ≈ {mine['read']:.2f} s), "
        f"peak RSS {mine['rss']:.0f} MB "
        f"— target ≤ {TARGET_SECONDS:.0f} s, ≤ {TARGET_MB} MB: {verdict}"
    )
    if theirs is not None:
        print(
            f"Evidently DataDriftPreset: {theirs['wall']:.2f} s wall (report "
            f"{theirs['seconds_report']:.2f} s, Parquet load {theirs['seconds_load']:.2f} s), "
            f"peak RSS {theirs['rss']:.0f} MB"
        )
    print(f"{'feature':<18}{'churnops':<50}{'Evidently (default preset)':<40}")
    for name, entry in report.features.items():
        numeric, categorical = entry.numeric, entry.categorical
        effect = numeric.wasserstein_norm if numeric else categorical and categorical.js_distance
        change = numeric.mean_change if numeric else None
        ours_text = f"{entry.status:<8} psi {entry.psi or 0:.3f} effect {effect or 0:.3f}"
        ours_text += f" mean {change:+.1%}" if change is not None else ""
        theirs_text = ""
        if theirs is not None and name in theirs["columns"]:
            column = theirs["columns"][name]
            flag = "drift" if column["drifted"] else "ok"
            theirs_text = f"{flag:<6} {column['method']} {column['value']:.3g}"
        print(f"{name:<18}{ours_text:<50}{theirs_text:<40}")
    prediction = report.prediction
    if prediction:
        print(f"{'prediction':<18}{prediction.status:<8} psi {prediction.psi or 0:.3f}")
    dataset = "DRIFT" if report.drift_detected else "no drift"
    line = f"overall: churnops {dataset} (score {report.drift_score:.2f})"
    if theirs is not None:
        theirs_dataset = "DRIFT" if theirs["dataset_drift"] else "no drift"
        line += f"; Evidently {theirs_dataset} (share {theirs['share']:.2f} vs threshold 0.5)"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of churnops drift")
    parser.add_argument("--no-evidently", action="store_true")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    python = None if args.no_evidently else evidently_python()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print("training a reference model (10,000 rows)…")
        settings = trained_home(root)
        reference = root / "reference.parquet"
        sample = open_registry(settings).version_dir(1) / "reference.parquet"
        pd.read_parquet(sample)[DEFAULT_SCHEMA.feature_names].to_parquet(reference)
        for scenario in SCENARIOS:
            print(f"writing {args.rows:,} scored rows ({scenario}) into a fresh inference log…")
            current = fill_log(settings, args.rows, scenario)
            current_path = root / "current.parquet"
            current.to_parquet(current_path)
            mine = ours(settings, args.repeat)
            theirs = evidently(python, reference, current_path) if python else None
            show(scenario, args.rows, mine, theirs)
    driver_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n(peak RSS of this driver, setup included: {driver_mb:.0f} MB)")


if __name__ == "__main__":
    main()
