"""Evidently's default DataDriftPreset on two Parquet files; prints its verdicts as JSON.

Run by ``bench_drift.py`` with the interpreter of ``benchmarks/.venv-evidently`` (Evidently is
not a dependency of churnops). Usage: ``python evidently_drift.py REFERENCE CURRENT``.
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def main(reference_path: str, current_path: str) -> None:
    started = time.perf_counter()
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    loaded = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    result = snapshot.dict()
    finished = time.perf_counter()
    columns: dict[str, dict[str, object]] = {}
    dataset: dict[str, object] = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            dataset = {
                "drifted_columns": metric["value"]["count"],
                "share": metric["value"]["share"],
                "drift_share_threshold": config["drift_share"],
            }
        elif config["type"].endswith("ValueDrift"):
            method, threshold = config["method"], float(config["threshold"])
            value = float(metric["value"])
            is_p_value = "p_value" in method
            columns[config["column"]] = {
                "method": method,
                "value": value,
                "threshold": threshold,
                "drifted": bool(value < threshold if is_p_value else value >= threshold),
            }
    share = float(dataset.get("share", 0.0))  # type: ignore[arg-type]
    threshold = float(dataset.get("drift_share_threshold", 0.5))  # type: ignore[arg-type]
    print(
        json.dumps(
            {
                "seconds_load": round(loaded - started, 3),
                "seconds_report": round(finished - loaded, 3),
                "dataset_drift": share >= threshold,
                **dataset,
                "columns": columns,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
