"""Checked inputs (binary outcomes, finite scores) and the "not enough outcomes yet" status.

A realised metric computed on a handful of outcomes is a number that looks meaningful and is
not, so every estimator returns ``NotEnoughOutcomes`` instead when either class has fewer than
a minimum count; callers must handle that type before they can read an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
from numpy.typing import ArrayLike

from churnops.errors import BadInputError

NOT_ENOUGH: Final = "not enough outcomes yet"


@dataclass(frozen=True)
class NotEnoughOutcomes:
    """Too few outcomes of one class for an estimate; no number is given on purpose."""

    positives: int
    negatives: int
    min_per_class: int
    status: Literal["not enough outcomes yet"] = NOT_ENOUGH

    @property
    def reason(self) -> str:
        return (
            f"{NOT_ENOUGH}: {self.positives} churned and {self.negatives} stayed; at least "
            f"{self.min_per_class} of each are needed"
        )


def outcome_labels(y: ArrayLike) -> np.ndarray:
    """Outcomes as a boolean array (True = churned); only 0/1 or booleans are accepted."""
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise BadInputError("outcomes must be a one-dimensional sequence of 0/1 values")
    if labels.dtype == np.bool_:
        return labels
    valid = np.isin(labels, (0, 1))
    if not valid.all():
        bad = labels[~valid].tolist()[0]
        raise BadInputError(f"outcomes must be 0 (stayed) or 1 (churned), got {bad!r}")
    churned: np.ndarray = labels == 1
    return churned


def score_values(scores: ArrayLike, size: int, name: str = "scores") -> np.ndarray:
    """Scores as finite float64, one per outcome."""
    try:
        values = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInputError(f"{name} must be numbers") from None
    if values.shape != (size,):
        raise BadInputError(f"{name} must hold one number per outcome ({size}), got {values.shape}")
    if not np.isfinite(values).all():
        raise BadInputError(f"{name} contain missing or infinite values; drop those rows first")
    return values


def check_min_per_class(min_per_class: int) -> None:
    """The variance estimates need at least two outcomes of each class."""
    if min_per_class < 2:
        raise BadInputError(f"the minimum per class must be at least 2, got {min_per_class}")


def insufficient(positives: int, negatives: int, min_per_class: int) -> NotEnoughOutcomes | None:
    """``NotEnoughOutcomes`` when either class is below the minimum, else None."""
    check_min_per_class(min_per_class)
    if min(positives, negatives) < min_per_class:
        return NotEnoughOutcomes(positives, negatives, min_per_class)
    return None
