"""Hold-out metrics, checked against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from churnops.model.metrics import classification_metrics


def test_metrics_on_a_worked_example() -> None:
    """Four customers, one of each outcome at threshold 0.5, give the hand-computed values."""
    y = np.array([0, 0, 1, 1])
    proba = np.array([0.1, 0.6, 0.4, 0.9])
    metrics = classification_metrics(y, proba, threshold=0.5)
    assert metrics["confusion_matrix"] == [[1, 1], [1, 1]]  # [[tn, fp], [fn, tp]]
    for key in ("accuracy", "precision", "recall", "f1"):
        assert metrics[key] == pytest.approx(0.5)
    # positives outrank negatives in 3 of the 4 pairs
    assert metrics["roc_auc"] == pytest.approx(0.75)
    assert metrics["rows"] == 4
    assert metrics["positive_rate"] == 0.5
    assert metrics["threshold"] == 0.5


def test_threshold_decides_the_labels() -> None:
    """A probability equal to the threshold counts as churn."""
    y = np.array([0, 1, 1])
    metrics = classification_metrics(y, np.array([0.2, 0.7, 0.7]), threshold=0.7)
    assert metrics["confusion_matrix"] == [[1, 0], [0, 2]]
    assert metrics["accuracy"] == 1.0


def test_single_class_hold_out_has_no_auc() -> None:
    """With one class only, ROC AUC is undefined (None), and the rest still computes."""
    metrics = classification_metrics(np.zeros(5, dtype=int), np.full(5, 0.3), threshold=0.5)
    assert metrics["roc_auc"] is None
    assert metrics["precision"] == 0.0
    assert metrics["confusion_matrix"] == [[5, 0], [0, 0]]
