"""The JSON drift report's exact format, pinned by stored examples.

Each scenario builds its inputs from fixed seeds (with its own small generator, so a change to
the synthetic data generator does not move them), runs the drift stage, and compares the JSON
file it writes with ``drift_examples/<scenario>.json`` byte for byte, apart from the
``generated_at`` timestamp and the last digits of floating-point numbers: a p-value's 16th
significant digit depends on the CPU's vector instructions (numpy and scipy pick them at run
time), so floats are compared to 1e-9 relative.

After a deliberate change of the format, rewrite the examples and review their diff:

    python tests/integration/test_drift_report_format.py
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnops import logstore
from churnops.monitoring.results import DriftReport
from churnops.monitoring.run import DriftOptions, run_drift
from churnops.schema import CONTRACT_TYPES, PAYMENT_METHODS
from churnops.settings import Settings, load_settings

EXAMPLES = Path(__file__).resolve().parent / "drift_examples"
STAMP = re.compile(r'"generated_at": "[^"]*"')
FLOAT = re.compile(r"-?\d+(?:\.\d+(?:[eE][-+]?\d+)?|[eE][-+]?\d+)")  # never an int
START = 1_750_032_000.0  # 2025-06-16T00:00:00Z
HOUR = 3_600.0


def customers(rows: int, seed: int) -> pd.DataFrame:
    """Customers with the default schema's features and a predicted churn probability."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 73, rows)
    monthly = np.round(18 + rng.gamma(4.0, 14.0, rows), 2)
    total = np.round(tenure * monthly * rng.uniform(0.95, 1.05, rows), 2)
    contract = rng.choice(np.array(CONTRACT_TYPES), rows, p=[0.55, 0.25, 0.20])
    payment = rng.choice(np.array(PAYMENT_METHODS), rows, p=[0.35, 0.20, 0.22, 0.23])
    score = 0.8 - 0.03 * tenure + 0.01 * monthly + (contract == "Month-to-month")
    probability = np.round(1 / (1 + np.exp(-score + rng.normal(0, 0.5, rows))), 6)
    return pd.DataFrame(
        {
            "customer_id": [f"C{seed}-{i}" for i in range(rows)],
            "tenure": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "contract_type": contract,
            "payment_method": payment,
            "probability": probability,
        }
    )


def price_increase(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for name in ("monthly_charges", "total_charges"):
        out[name] = np.round(out[name] * 1.10, 2)
    return out


def contract_shift(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    out = frame.copy()
    rng = np.random.default_rng(seed)
    out["contract_type"] = rng.choice(np.array(CONTRACT_TYPES), len(out), p=[0.8, 0.1, 0.1])
    return out


def log(settings: Settings, frame: pd.DataFrame, version: int, start: float, step: float) -> None:
    """Append ``frame`` to the inference log as answered by ``version``, one row per ``step``."""
    values = {
        "ts": start + np.arange(len(frame)) * step,
        "request_id": [f"r{version}-{start:.0f}-{i}" for i in range(len(frame))],
        "model_version": [version] * len(frame),
        "decision": (frame["probability"] >= 0.5).astype(int),
        "latency_ms": [1.0] * len(frame),
    }
    table = frame.assign(**values)[logstore.prediction_columns()]
    conn = logstore.connect(settings.inference_db)
    try:
        logstore.insert(
            conn, table.itertuples(index=False, name=None), names=logstore.prediction_columns()
        )
    finally:
        conn.close()


def log_run(settings: Settings) -> DriftOptions:
    """Two versions in the log, hourly chunks: v1 has a contract shift that ended and a sparse
    (unjudged) hour; v2's prices rose in its last two hours and still are."""
    customers(3_000, 1).to_csv("reference.csv", index=False)
    hours = [customers(300, 10 + h) for h in range(6)]
    hours[1], hours[2] = contract_shift(hours[1], 21), contract_shift(hours[2], 22)
    hours[4] = hours[4].head(12)
    for h, frame in enumerate(hours):
        log(settings, frame, 1, START + h * HOUR, HOUR / len(frame))
    later = START + 6 * HOUR
    for h in range(4):
        frame = customers(250, 30 + h)
        frame = price_increase(frame) if h >= 2 else frame
        log(settings, frame, 2, later + h * HOUR, HOUR / 250)
    return DriftOptions(reference=Path("reference.csv"))


def file_run(settings: Settings) -> DriftOptions:
    """A scoring file (row chunks) whose prices rose, against a reference file."""
    customers(3_000, 2).to_csv("reference.csv", index=False)
    price_increase(customers(1_200, 3)).to_csv("current.csv", index=False)
    return DriftOptions(current=Path("current.csv"), reference=Path("reference.csv"))


def not_compared_run(settings: Settings) -> DriftOptions:
    """A scoring file without the tenure column and with a new contract mix; its numbers carry
    a few non-numbers and blanks."""
    customers(3_000, 4).to_csv("reference.csv", index=False)
    current = contract_shift(customers(800, 5), 6).drop(columns=["tenure"])
    current = current.astype({"monthly_charges": object})
    current.loc[:3, "monthly_charges"] = ["", "n/a", "inf", None]
    current.to_csv("current.csv", index=False)
    return DriftOptions(current=Path("current.csv"), reference=Path("reference.csv"))


SCENARIOS: dict[str, tuple[Callable[[Settings], DriftOptions], dict[str, str]]] = {
    "log_two_versions_hourly": (log_run, {"drift_chunk": "1h"}),
    "file_price_increase": (file_run, {"drift_chunk": "300"}),
    "file_not_compared_and_drifting": (not_compared_run, {}),
}


def report_text(scenario: str, folder: Path) -> str:
    """The JSON report the scenario writes, run in ``folder`` with relative paths (so no
    temporary path ends up in it), its timestamp blanked."""
    make, overrides = SCENARIOS[scenario]
    previous = Path.cwd()
    os.chdir(folder)
    try:
        settings = load_settings(home=Path("home"), **overrides)
        run = run_drift(settings, make(settings))
        text = (folder / run.json_path).read_text(encoding="utf-8")
    finally:
        os.chdir(previous)
    return STAMP.sub('"generated_at": "…"', text)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_json_report_matches_its_stored_example(scenario: str, tmp_path: Path) -> None:
    """It writes the stored example's bytes (the timestamp and floats' last digits aside)."""
    expected = (EXAMPLES / f"{scenario}.json").read_text(encoding="utf-8")
    written = report_text(scenario, tmp_path)
    assert FLOAT.sub("<float>", written) == FLOAT.sub("<float>", expected)
    floats = [float(number) for number in FLOAT.findall(written)]
    assert floats == pytest.approx([float(n) for n in FLOAT.findall(expected)], rel=1e-9)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_stored_report_reads_back_into_the_same_report(scenario: str) -> None:
    """It reads a written report back (as the API's gauges do) without losing a key."""
    stored = (EXAMPLES / f"{scenario}.json").read_text(encoding="utf-8")
    report = DriftReport.from_json(stored)
    assert json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n" == stored


def main() -> None:
    EXAMPLES.mkdir(exist_ok=True)
    for scenario in SCENARIOS:
        with tempfile.TemporaryDirectory() as tmp:
            text = report_text(scenario, Path(tmp))
        (EXAMPLES / f"{scenario}.json").write_text(text, encoding="utf-8")
        print(f"wrote {EXAMPLES / scenario}.json", file=sys.stderr)


if __name__ == "__main__":
    main()
