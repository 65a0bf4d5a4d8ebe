"""Realised metrics of one version: threshold metrics, Brier score, the not-enough status."""

from __future__ import annotations

import numpy as np
import pytest

from churnops.errors import BadInputError
from churnops.model.metrics import classification_metrics
from churnops.statistics import (
    AucEstimate,
    NotEnoughOutcomes,
    RealisedPerformance,
    auc_interval,
    realised_performance,
    threshold_metrics,
)


def test_threshold_metrics_on_a_worked_example() -> None:
    """Four customers, one of each outcome at 0.5: hand-computed precision, recall, F1,
    accuracy, and Brier = mean((p − y)²)."""
    y = np.array([0, 0, 1, 1])
    proba = np.array([0.1, 0.6, 0.4, 0.9])
    found = threshold_metrics(y, proba, 0.5)
    assert (found.precision, found.recall, found.f1, found.accuracy) == pytest.approx((0.5,) * 4)
    assert found.brier == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    assert found.predicted_positive_rate == 0.5
    assert found.threshold == 0.5


def test_realised_metrics_match_the_hold_out_computation() -> None:
    """On random data the threshold metrics are the training-time ones (same function) and
    the AUC is the DeLong estimate."""
    rng = np.random.default_rng(4)
    y = (rng.random(3_000) < 0.25).astype(int)
    proba = np.clip(0.25 + 0.3 * (y - 0.25) + rng.normal(0, 0.2, y.size), 0, 1)
    found = realised_performance(y, proba, threshold=0.4)
    assert isinstance(found, RealisedPerformance)
    hold_out = classification_metrics(y, proba, 0.4)
    for name in ("precision", "recall", "f1", "accuracy"):
        assert getattr(found.metrics, name) == pytest.approx(hold_out[name])
    assert found.auc == auc_interval(y, proba)
    assert found.auc.auc == pytest.approx(hold_out["roc_auc"])
    assert found.labelled == 3_000 and found.churn_rate == pytest.approx(y.mean())


def test_too_few_outcomes_give_no_metric_at_all() -> None:
    """Below the minimum of a class not even precision or Brier is given."""
    y = np.array([1] * 20 + [0] * 300)
    proba = np.linspace(0, 1, y.size)
    assert realised_performance(y, proba, 0.5) == NotEnoughOutcomes(20, 300, 50)
    assert isinstance(realised_performance(y, proba, 0.5, min_per_class=20), RealisedPerformance)
    assert isinstance(realised_performance(y, proba, 0.5, min_per_class=20).auc, AucEstimate)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("proba", "threshold", "message"),
    [
        ([0.2, 1.3, 0.5, 0.1], 0.5, r"probabilities must lie in \[0, 1\]"),
        ([0.2, -0.1, 0.5, 0.1], 0.5, r"probabilities must lie in \[0, 1\]"),
        ([0.2, 0.3, 0.5, 0.1], 1.5, "threshold must be a probability"),
        ([0.2, 0.3, 0.5], 0.5, "one number per outcome"),
    ],
)
def test_impossible_probabilities_or_thresholds_are_refused(
    proba: list[float], threshold: float, message: str
) -> None:
    with pytest.raises(BadInputError, match=message):
        realised_performance([0, 1, 0, 1], proba, threshold, min_per_class=2)
