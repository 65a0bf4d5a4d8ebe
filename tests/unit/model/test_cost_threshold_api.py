"""The API decides with the threshold a version was trained with — here one chosen by cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from churnops import workflow
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA, SEED_EXAMPLE
from churnops.serving.app import create_app
from churnops.settings import Settings


def test_the_api_answers_with_the_cost_threshold(trained_settings: Settings) -> None:
    """After training with a missed churner costing 200 and a wasted offer 20, the current
    version's threshold is below 0.5, /predict and /predict/batch report it, and a customer
    whose probability lies between it and 0.5 is flagged as churn."""
    options = workflow.training_options(trained_settings, cost_fn=200, cost_fp=20)
    entry = workflow.train_step(trained_settings, options=options, force=True).registered.entry
    assert entry.status == "current" and entry.threshold < 0.5
    holdout = pd.read_parquet(
        Registry(trained_settings).version_dir(entry.version) / "holdout.parquet"
    )
    rows = holdout[DEFAULT_SCHEMA.feature_names].head(300)
    body = [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in rows.to_dict("records")
    ]
    with TestClient(create_app(trained_settings)) as client:
        one = client.post("/predict", json=SEED_EXAMPLE).json()
        batch = client.post("/predict/batch", json=body).json()
    assert one["model_version"] == entry.version
    assert one["threshold"] == batch["threshold"] == entry.threshold
    assert one["churn"] == (one["churn_probability"] >= entry.threshold)
    probabilities = np.array([p["churn_probability"] for p in batch["predictions"]])
    decisions = np.array([p["churn"] for p in batch["predictions"]])
    np.testing.assert_array_equal(decisions, probabilities >= entry.threshold)
    between = (probabilities >= entry.threshold) & (probabilities < 0.5)
    assert between.any() and decisions[between].all()
