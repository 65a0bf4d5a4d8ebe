"""True outcomes for simulated customers: drawn from the generator's truth, seeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_support import RunCli
from sklearn.metrics import roc_auc_score

from churnops.data.generate import generate
from churnops.monitoring.simulate import simulated_frame
from churnops.outcomes.simulated import simulated_outcomes

ROWS = 20_000


def test_outcomes_follow_the_ground_truth() -> None:
    """Without a shift the customers are the generated ones: churn rate and AUC of the true
    probability agree with the generator's own labels' (different draws, same truth)."""
    frame = simulated_frame(ROWS, 4, None)
    outcomes = simulated_outcomes(frame, ROWS, 4, 1_750_000_000.4)
    generated = generate(ROWS, 4, dirt=False)
    assert outcomes["customer_id"].tolist() == frame["customer_id"].tolist()
    assert set(outcomes["outcome"].unique()) == {0, 1}
    assert abs(outcomes["outcome"].mean() - generated.churn_probability.mean()) < 0.015
    truth = roc_auc_score(outcomes["outcome"], generated.churn_probability)
    assert abs(truth - generated.meta["oracle_roc_auc"]) < 0.02
    assert (outcomes["observed_at"] == "2025-06-15T15:06:41Z").all()  # rounded up, never before


def test_the_same_seed_gives_the_same_outcomes_and_shifts_change_the_truth() -> None:
    frame = simulated_frame(5_000, 6, None)
    first = simulated_outcomes(frame, 5_000, 6, 0.0)
    assert first.equals(simulated_outcomes(frame, 5_000, 6, 0.0))
    pricier = simulated_frame(5_000, 6, "price-increase")
    shifted = simulated_outcomes(pricier, 5_000, 6, 0.0)
    assert shifted["outcome"].mean() > first["outcome"].mean()  # higher bills, more churn


def test_a_customer_with_a_missing_value_gets_no_outcome() -> None:
    frame = simulated_frame(2_000, 6, "missing-values")
    outcomes = simulated_outcomes(frame, 2_000, 6, 0.0)
    complete = frame.notna().all(axis=1)
    assert 0 < len(outcomes) < len(frame)
    assert set(outcomes["customer_id"]) <= set(frame.loc[complete, "customer_id"])


@pytest.mark.parametrize("name", ["outcomes.csv", "outcomes.parquet"])
def test_simulate_writes_the_outcomes_file(run_cli: RunCli, tmp_path: Path, name: str) -> None:
    """The outcomes file is CSV, or Parquet when named so, as `labels import` reads it."""
    rows, outcomes = tmp_path / "rows.csv", tmp_path / name
    found = run_cli(
        "simulate", "--rows", "500", "--seed", "3", "--out", rows, "--outcomes", outcomes
    )
    assert found.code == 0, found.err
    read = pd.read_parquet if name.endswith(".parquet") else pd.read_csv
    written = read(outcomes)
    assert list(written.columns) == ["customer_id", "outcome", "observed_at"]
    assert written["customer_id"].tolist() == pd.read_csv(rows)["customer_id"].tolist()
    assert np.isin(written["outcome"], [0, 1]).all()


def test_simulations_with_different_seeds_share_no_customer() -> None:
    """Two days simulated with two seeds are different customers: the same ids would make the
    second day's outcomes label (or correct) the first day's predictions."""
    first, second = simulated_frame(500, 1, None), simulated_frame(500, 2, None)
    assert not set(first["customer_id"]) & set(second["customer_id"])
    assert first["customer_id"].tolist() == simulated_frame(500, 1, None)["customer_id"].tolist()
