"""True outcomes for simulated traffic: whether each generated customer churned, drawn from
the generator's ground truth, so an experiment can be watched end to end on one machine."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from churnops.data.generate import generate, true_churn_probability
from churnops.monitoring.window import iso
from churnops.schema import DEFAULT_SCHEMA


def simulated_outcomes(
    frame: pd.DataFrame, rows: int, seed: int, observed_at: float
) -> pd.DataFrame:
    """``customer_id, outcome, observed_at`` for the customers of ``frame`` (built by
    ``simulated_frame(rows, seed, …)``, a shift included): churned (1) with each customer's
    true probability, drawn with its own seeded stream. A customer whose row lost a value to
    the shift gets none: the API refuses such rows, so they have no prediction to label."""
    intercept = generate(rows, seed, dirt=False).meta["intercept"]
    assert isinstance(intercept, float)
    probability = true_churn_probability(frame, intercept)
    churned = np.random.default_rng([seed, 2]).random(len(frame)) < probability
    known = frame[DEFAULT_SCHEMA.feature_names].notna().all(axis=1).to_numpy()
    return pd.DataFrame(
        {
            "customer_id": frame[DEFAULT_SCHEMA.id_column].to_numpy()[known],
            "outcome": churned[known].astype(np.int64),
            "observed_at": iso(math.ceil(observed_at)),  # whole seconds, not before it
        }
    )
