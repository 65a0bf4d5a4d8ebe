"""Training statistics for drift monitoring: what the model's training data looked like.

Written per version (``registry/versions/vN/train_stats.json``) and copied to
``registry/train_stats.json`` for whichever version is current, so after a rollback drift
compares live traffic with the statistics of the model actually serving.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnops.schema import FeatureSchema

QUANTILES = (0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 0.99)
HISTOGRAM_BINS = 20


def numeric_summary(values: pd.Series, bins: int | np.ndarray = HISTOGRAM_BINS) -> dict[str, Any]:
    present = values.dropna().to_numpy(dtype=float)
    missing_rate = float(values.isna().mean()) if len(values) else 0.0
    if present.size == 0:
        return {"count": 0, "missing_rate": missing_rate}
    counts, edges = np.histogram(present, bins=bins)
    return {
        "count": int(present.size),
        "missing_rate": missing_rate,
        "mean": float(present.mean()),
        "std": float(present.std(ddof=1)) if present.size > 1 else 0.0,
        "min": float(present.min()),
        "max": float(present.max()),
        "quantiles": {
            str(q): float(v)
            for q, v in zip(QUANTILES, np.quantile(present, QUANTILES), strict=True)
        },
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def categorical_summary(values: pd.Series) -> dict[str, Any]:
    present = values.dropna()
    counts = present.value_counts()
    return {
        "count": int(present.size),
        "missing_rate": float(values.isna().mean()) if len(values) else 0.0,
        "counts": {str(k): int(v) for k, v in counts.items()},
        "frequencies": {str(k): float(v) / max(int(present.size), 1) for k, v in counts.items()},
    }


def train_stats(
    version: int, train: pd.DataFrame, holdout_proba: np.ndarray, schema: FeatureSchema
) -> dict[str, Any]:
    return {
        "version": version,
        "rows": len(train),
        "label_rate": float(train[schema.label].mean()),
        "numeric": {name: numeric_summary(train[name]) for name in schema.numeric_names},
        "categorical": {
            name: categorical_summary(train[name]) for name in schema.categorical_names
        },
        "missing_rates": {name: float(train[name].isna().mean()) for name in schema.feature_names},
        "prediction": numeric_summary(
            pd.Series(holdout_proba), bins=np.linspace(0, 1, HISTOGRAM_BINS + 1)
        ),
    }
