"""What train's opt-in options cost on the default data (10,000 generated rows, 200 trees):
training time of the default, a cost threshold, isotonic calibration and both, and the served
graph's scoring time (one row, and the 2,000-row hold-out), each as a ratio to the default
measured in the same run (medians of --repeat runs: the machine is shared and noisy).

    python benchmarks/bench_train_options.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from churnops import workflow
from churnops.model.costs import Costs
from churnops.model.export import export_onnx
from churnops.model.onnx_model import OnnxModel
from churnops.model.train import Options, Trained, load_processed, train_model
from churnops.schema import DEFAULT_SCHEMA
from churnops.settings import load_settings

COSTS = Costs(false_negative=200, false_positive=20)
VARIANTS = {
    "default": Options(),
    "--threshold-by cost": Options(costs=COSTS, threshold_by_cost=True),
    "--calibrate isotonic": Options(calibration="isotonic"),
    "both": Options(calibration="isotonic", costs=COSTS, threshold_by_cost=True),
}


def scoring_seconds(trained: Trained, rows: int, calls: int) -> float:
    """Median seconds of one ``predict_matrix`` call of the served graph on ``rows`` rows."""
    model = OnnxModel(export_onnx(trained.pipeline, DEFAULT_SCHEMA), DEFAULT_SCHEMA)
    matrix = DEFAULT_SCHEMA.encode(trained.holdout_frame.head(rows)).astype(np.float32)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        model.predict_matrix(matrix)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(home=Path(tmp))
        workflow.generate_step(settings)
        workflow.prepare_step(settings)
        frame = load_processed(settings.processed_csv)
        train: dict[str, list[float]] = {name: [] for name in VARIANTS}
        fitted: dict[str, Trained] = {}
        for _ in range(args.repeat):
            for name, options in VARIANTS.items():
                start = time.perf_counter()
                fitted[name] = train_model(frame, settings, tune=False, options=options)
                train[name].append(time.perf_counter() - start)
    base = {name: statistics.median(times) for name, times in train.items()}
    one = {name: scoring_seconds(t, 1, 2_000) for name, t in fitted.items()}
    many = {name: scoring_seconds(t, 2_000, 20) for name, t in fitted.items()}
    print(
        f"{'options':<22}{'train s':>9}{'× default':>11}{'1 row µs':>10}{'×':>6}"
        f"{'2,000 rows ms':>15}{'×':>6}"
    )
    for name in VARIANTS:
        print(
            f"{name:<22}{base[name]:>9.1f}{base[name] / base['default']:>11.1f}"
            f"{one[name] * 1e6:>10.0f}{one[name] / one['default']:>6.1f}"
            f"{many[name] * 1e3:>15.1f}{many[name] / many['default']:>6.1f}"
        )


if __name__ == "__main__":
    main()
