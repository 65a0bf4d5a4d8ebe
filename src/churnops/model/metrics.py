"""Metrics of a churn classifier: at its decision threshold, and of its ranking."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, threshold: float
) -> dict[str, Any]:
    predicted = (proba >= threshold).astype(int)
    both_classes = len(np.unique(y_true)) == 2
    return {
        "accuracy": float(accuracy_score(y_true, predicted)),
        "precision": float(precision_score(y_true, predicted, zero_division=0)),
        "recall": float(recall_score(y_true, predicted, zero_division=0)),
        "f1": float(f1_score(y_true, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(y_true, proba)) if both_classes else None,
        "brier": float(brier_score_loss(y_true, proba, pos_label=1)),
        "confusion_matrix": confusion_matrix(y_true, predicted, labels=[0, 1]).tolist(),
        "threshold": threshold,
        "rows": len(y_true),
        "positive_rate": float(np.mean(y_true)),
    }


TOP_SHARES = (0.1, 0.2, 0.3)
"""The shares of customers, highest scores first, a retention team would contact."""


def gains(y_true: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cumulative gains curve: the share of customers contacted, highest scores first,
    against the share of all churners among them (both from 0 to 1)."""
    order = np.argsort(-proba, kind="stable")
    caught = np.concatenate([[0], np.cumsum(y_true[order])]) / max(int(np.sum(y_true)), 1)
    contacted = np.arange(len(y_true) + 1) / max(len(y_true), 1)
    return contacted, caught


def ranking_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float | None]:
    """Average precision, and the share of churners caught and the lift (that share over the
    share contacted) in the top 10 / 20 / 30 % of scores; None with one class only."""
    both_classes = len(np.unique(y_true)) == 2
    metrics: dict[str, float | None] = {
        "average_precision": float(average_precision_score(y_true, proba)) if both_classes else None
    }
    contacted, caught = gains(y_true, proba)
    for share in TOP_SHARES:
        percent = round(share * 100)
        reached = float(np.interp(share, contacted, caught)) if both_classes else None
        metrics[f"caught_top_{percent}pct"] = reached
        metrics[f"lift_top_{percent}pct"] = None if reached is None else reached / share
    return metrics
