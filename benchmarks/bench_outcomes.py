"""Outcomes at scale: the inference log writer's cost of the join's indexes, importing
outcomes, one feedback call, and the performance report over a large log.

The script writes ``--rows`` logged predictions (a real model's scores) into a temporary
project, then times, in fresh processes where a user would run a command:

- ``logstore.insert`` per row, CPU time, on a plain log and on one with the outcome store's
  indexes (request id; customer id and time), in the same run, medians of ``--repeat``;
- ``churnops labels import`` of an outcome for every customer (by customer id), twice (the
  second finds every outcome unchanged);
- one outcome recorded through the store as ``POST /feedback`` does, median of 50;
- ``churnops performance --json`` over the whole log.

    python benchmarks/bench_outcomes.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from churnops import logstore, workflow
from churnops.model.onnx_model import OnnxModel
from churnops.monitoring.simulate import simulated_frame
from churnops.outcomes.records import Outcome
from churnops.outcomes.simulated import simulated_outcomes
from churnops.outcomes.store import LOG_INDEXES, SqliteOutcomeStore
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA
from churnops.settings import load_settings

BATCH = 2_000


def log_rows(frame_rows: int, model: OnnxModel, seed: int) -> list[tuple[object, ...]]:
    frame = simulated_frame(frame_rows, seed, None)
    probability = model.predict_frame(frame).tolist()
    prefix = uuid.uuid4().hex[:16]
    start = time.time() - 3 * 86_400
    features = frame[DEFAULT_SCHEMA.feature_names].to_numpy(dtype=object).tolist()
    return [
        (start + i * 0.1, f"{prefix}-{i:x}", customer, 1, *values, p, p >= 0.5, 1.0)
        for i, (customer, values, p) in enumerate(
            zip(frame["customer_id"], features, probability, strict=True)
        )
    ]


def insert_cost(rows: list[tuple[object, ...]], indexed: bool) -> float:
    """CPU microseconds per row appended in writer-sized batches."""
    with tempfile.TemporaryDirectory() as folder:
        conn = logstore.connect(Path(folder) / "log.sqlite")
        for statement in LOG_INDEXES if indexed else ():
            conn.execute(statement)
        started = time.process_time()
        for first in range(0, len(rows), BATCH):
            logstore.insert(conn, rows[first : first + BATCH], names=logstore.prediction_columns())
        spent = time.process_time() - started
        conn.close()
    return spent / len(rows) * 1e6


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(home=Path(folder), rows=10_000)
        workflow.generate_step(settings)
        workflow.prepare_step(settings)
        workflow.train_step(settings)
        registry = Registry(settings)
        current = registry.read().current
        assert current is not None
        model = OnnxModel.load(registry.onnx_path(current), DEFAULT_SCHEMA)
        rows = log_rows(args.rows, model, seed=21)

        sample = rows[: min(len(rows), 200_000)]
        plain = [insert_cost(sample, indexed=False) for _ in range(args.repeat)]
        indexed = [insert_cost(sample, indexed=True) for _ in range(args.repeat)]
        print(
            f"log insert, CPU per row ({len(sample):,} rows): plain "
            f"{statistics.median(plain):.1f} µs, with the outcome indexes "
            f"{statistics.median(indexed):.1f} µs (medians of {args.repeat})"
        )

        conn = logstore.connect(settings.inference_db)
        for first in range(0, len(rows), BATCH):
            logstore.insert(conn, rows[first : first + BATCH], names=logstore.prediction_columns())
        conn.close()
        outcomes = Path(folder) / "outcomes.csv"
        frame = simulated_frame(args.rows, 21, None)
        simulated_outcomes(frame, args.rows, 21, time.time()).to_csv(outcomes, index=False)
        churnops = [sys.executable, "-m", "churnops"]
        first = timed([*churnops, "labels", "import", str(outcomes), "--home", folder])
        again = timed([*churnops, "labels", "import", str(outcomes), "--home", folder])
        print(
            f"labels import, {args.rows:,} outcomes: {first:.1f} s; again (unchanged) {again:.1f} s"
        )

        store = SqliteOutcomeStore(settings.inference_db, settings.outcome_window_days)
        customers = np.random.default_rng(3).choice(frame["customer_id"].to_numpy(), 50)
        calls = []
        for customer in customers:
            started = time.perf_counter()
            store.record([Outcome("", str(customer), 1, time.time())], "bench", "every")
            calls.append(time.perf_counter() - started)
        print(f"one feedback outcome recorded: median {statistics.median(calls) * 1000:.1f} ms")

        seconds = timed([*churnops, "performance", "--json", "--home", folder])
        print(f"churnops performance over {args.rows:,} predictions: {seconds:.1f} s")


if __name__ == "__main__":
    main()
