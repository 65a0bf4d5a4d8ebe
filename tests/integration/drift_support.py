"""Helpers for the drift integration tests: log scored rows as the API does, run the CLI.

(A plain module, imported by name: pytest puts each test folder on ``sys.path``.)"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from churnops import logstore
from churnops.cli import main
from churnops.model.onnx_model import OnnxModel
from churnops.monitoring.simulate import simulated_frame
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA
from churnops.settings import Settings


def log_scored(
    settings: Settings, frame: pd.DataFrame, version: int, start_ts: float, step_s: float = 1.0
) -> np.ndarray:
    """Score ``frame`` with version ``version``'s ONNX model and append it to the inference log,
    one row every ``step_s`` seconds from ``start_ts``; returns the probabilities."""
    registry = Registry(settings)
    entry = registry.require(registry.read(), version)
    model = OnnxModel.load(registry.onnx_path(entry), DEFAULT_SCHEMA)
    probabilities = model.predict_frame(frame)
    names = DEFAULT_SCHEMA.feature_names
    rows = [
        (
            start_ts + i * step_s,
            uuid.uuid4().hex,
            str(customer),
            version,
            *features,
            float(p),
            int(p >= entry.threshold),
            1.0,
        )
        for i, (customer, *features, p) in enumerate(
            zip(
                frame["customer_id"],
                *(frame[n].tolist() for n in names),
                probabilities,
                strict=True,
            )
        )
    ]
    conn = logstore.connect(settings.inference_db)
    try:
        logstore.insert(conn, rows, names=logstore.prediction_columns())
    finally:
        conn.close()
    return probabilities


def traffic(rows: int, seed: int, shift: str | None = None) -> pd.DataFrame:
    return simulated_frame(rows, seed, shift)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """``churnops ARGS`` in this process, through the real entry point and its exit codes."""
    capsys.readouterr()
    saved = sys.argv
    sys.argv = ["churnops", *args]
    try:
        with pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        sys.argv = saved
    captured = capsys.readouterr()
    code = exit_info.value.code
    return CliResult(
        code if isinstance(code, int) else (0 if code is None else 1), captured.out, captured.err
    )
