"""Training statistics: the summaries drift compares live traffic with."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnops.registry.stats import QUANTILES, categorical_summary, numeric_summary, train_stats
from churnops.schema import DEFAULT_SCHEMA


def test_numeric_summary_of_known_values() -> None:
    """Count, missing rate, mean, sample std, extremes, quantiles and a histogram of 1..10."""
    values = pd.Series([*range(1, 11), None], dtype="float64")
    summary = numeric_summary(values, bins=np.array([0.0, 5.0, 10.0]))
    assert summary["count"] == 10
    assert summary["missing_rate"] == pytest.approx(1 / 11)
    assert summary["mean"] == 5.5
    assert summary["std"] == pytest.approx(np.std(np.arange(1, 11), ddof=1))
    assert (summary["min"], summary["max"]) == (1.0, 10.0)
    assert list(summary["quantiles"]) == [str(q) for q in QUANTILES]
    assert summary["quantiles"]["0.5"] == 5.5
    assert summary["histogram"] == {"edges": [0.0, 5.0, 10.0], "counts": [4, 6]}


def test_numeric_summary_of_nothing() -> None:
    """An all-missing column gives a zero count and its missing rate, not an error."""
    assert numeric_summary(pd.Series([None, None], dtype="float64")) == {
        "count": 0,
        "missing_rate": 1.0,
    }
    assert numeric_summary(pd.Series([3.0]))["std"] == 0.0


def test_categorical_summary() -> None:
    """Counts and frequencies of the values present; missing values only in the missing rate."""
    summary = categorical_summary(pd.Series(["a", "b", "a", None]))
    assert summary["count"] == 3
    assert summary["missing_rate"] == 0.25
    assert summary["counts"] == {"a": 2, "b": 1}
    assert summary["frequencies"] == pytest.approx({"a": 2 / 3, "b": 1 / 3})


def test_train_stats_layout() -> None:
    """One summary per schema feature, the label rate and the prediction distribution on 0..1."""
    frame = pd.DataFrame(
        {
            "tenure": [1, 2, 3, 4],
            "monthly_charges": [10.0, 20.0, 30.0, 40.0],
            "total_charges": [10.0, 40.0, 90.0, 160.0],
            "contract_type": ["One year", "One year", "Two year", "Month-to-month"],
            "payment_method": ["Mailed check"] * 4,
            "churn": [0, 1, 0, 0],
        }
    )
    stats = train_stats(3, frame, np.array([0.1, 0.2, 0.9]), DEFAULT_SCHEMA)
    assert (stats["version"], stats["rows"], stats["label_rate"]) == (3, 4, 0.25)
    assert set(stats["numeric"]) == set(DEFAULT_SCHEMA.numeric_names)
    assert set(stats["categorical"]) == set(DEFAULT_SCHEMA.categorical_names)
    assert stats["categorical"]["contract_type"]["counts"]["One year"] == 2
    assert stats["missing_rates"] == dict.fromkeys(DEFAULT_SCHEMA.feature_names, 0.0)
    edges = stats["prediction"]["histogram"]["edges"]
    assert (edges[0], edges[-1], len(edges)) == (0.0, 1.0, 21)
    assert stats["prediction"]["count"] == 3
