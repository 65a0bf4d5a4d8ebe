"""Realised performance of one model version on the outcomes that have arrived.

Ranking: ROC AUC with its DeLong interval (``churnops.statistics.delong``). Decisions at the
version's threshold: precision, recall, F1 and accuracy, computed by the same
``churnops.model.metrics.classification_metrics`` as the hold-out metrics at training time, so
realised and hold-out figures compare like with like. Calibration: the Brier score, the mean
squared difference between predicted probability and outcome (Brier 1950, Monthly Weather
Review 78:1–3), which rises when predicted probabilities drift from realised churn rates even
if the ranking holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import brier_score_loss

from churnops.errors import BadInputError
from churnops.model.metrics import classification_metrics
from churnops.statistics.defaults import DEFAULT_LEVEL, DEFAULT_MIN_PER_CLASS
from churnops.statistics.delong import AucEstimate, auc_interval
from churnops.statistics.outcomes import NotEnoughOutcomes, outcome_labels, score_values


@dataclass(frozen=True)
class ThresholdMetrics:
    """Decision metrics at ``threshold`` (a probability ≥ threshold predicts churn)."""

    threshold: float
    precision: float
    recall: float
    f1: float
    accuracy: float
    brier: float
    predicted_positive_rate: float


@dataclass(frozen=True)
class RealisedPerformance:
    """A version's realised AUC (with interval) and threshold metrics on labelled predictions."""

    auc: AucEstimate
    metrics: ThresholdMetrics
    labelled: int
    churn_rate: float
    status: Literal["estimated"] = "estimated"


def threshold_metrics(y: ArrayLike, proba: ArrayLike, threshold: float) -> ThresholdMetrics:
    """Precision, recall, F1, accuracy at ``threshold`` and the Brier score of ``proba``."""
    labels = outcome_labels(y).astype(np.int64)
    values = _probabilities(proba, labels.size)
    if not 0 <= threshold <= 1:
        raise BadInputError(f"the threshold must be a probability in [0, 1], got {threshold}")
    found = classification_metrics(labels, values, threshold)
    return ThresholdMetrics(
        threshold=threshold,
        precision=found["precision"],
        recall=found["recall"],
        f1=found["f1"],
        accuracy=found["accuracy"],
        brier=float(brier_score_loss(labels, values)),
        predicted_positive_rate=float(np.mean(values >= threshold)),
    )


def realised_performance(
    y: ArrayLike,
    proba: ArrayLike,
    threshold: float,
    level: float = DEFAULT_LEVEL,
    min_per_class: int = DEFAULT_MIN_PER_CLASS,
) -> RealisedPerformance | NotEnoughOutcomes:
    """All realised metrics of one version, or ``NotEnoughOutcomes`` below ``min_per_class``
    churned or retained customers (no metric is shown then, not even the threshold ones)."""
    labels = outcome_labels(y)
    values = _probabilities(proba, labels.size)
    auc = auc_interval(labels, values, level, min_per_class)
    if isinstance(auc, NotEnoughOutcomes):
        return auc
    labelled = auc.positives + auc.negatives
    metrics = threshold_metrics(labels, values, threshold)
    return RealisedPerformance(auc, metrics, labelled, auc.positives / labelled)


def _probabilities(proba: ArrayLike, size: int) -> np.ndarray:
    values = score_values(proba, size, "probabilities")
    if values.size and (values.min() < 0 or values.max() > 1):
        raise BadInputError("probabilities must lie in [0, 1]")
    return values
