"""From labelled predictions to realised metrics, and the degradation rule.

Which predictions are measured: a customer scored ten times before one outcome arrived is one
observation, not ten (counting each would weigh frequent customers more and make the interval
too narrow: the ten are not independent). So each outcome is measured once per group (model
version, experiment arm), on the latest prediction it labels — the score in force when the
truth became known. Coverage counts every labelled prediction.

Degradation: a version is degraded when its realised AUC's whole interval lies more than
``max_auc_drop`` below its hold-out AUC — the hold-out AUC is outside the interval, and the
loss is larger than the tolerated drop, so neither noise on a few outcomes nor a trivial loss
on millions raises a finding (the drift rule's "significant and large enough", and the
promotion gate's tolerated AUC loss).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnops.performance.results import AucInterval, Measured, NotEnough
from churnops.statistics import (
    NotEnoughOutcomes,
    RealisedPerformance,
    realised_performance,
)


def one_per_outcome(frame: pd.DataFrame, by: Sequence[str] = ()) -> np.ndarray:
    """A mask of the predictions to measure: for each outcome (and group ``by``), the latest
    prediction it labels. ``frame`` has ``ts`` and ``outcome_id`` (null: no outcome)."""
    labelled = frame[frame["outcome_id"].notna()]
    latest = labelled.sort_values("ts", kind="stable").drop_duplicates(
        [*by, "outcome_id"], keep="last"
    )
    mask: np.ndarray = frame.index.isin(latest.index)
    return mask


def not_enough(found: NotEnoughOutcomes) -> NotEnough:
    return NotEnough(
        churned=found.positives,
        stayed=found.negatives,
        min_per_class=found.min_per_class,
        reason=found.reason,
    )


def as_result(found: RealisedPerformance | NotEnoughOutcomes) -> Measured | NotEnough:
    """The statistics' result as a report block."""
    if isinstance(found, NotEnoughOutcomes):
        return not_enough(found)
    auc, metrics = found.auc, found.metrics
    return Measured(
        outcomes=found.labelled,
        churned=auc.positives,
        stayed=auc.negatives,
        auc=AucInterval.model_validate(auc, from_attributes=True),
        threshold=metrics.threshold,
        precision=metrics.precision,
        recall=metrics.recall,
        f1=metrics.f1,
        accuracy=metrics.accuracy,
        brier=metrics.brier,
    )


def measure(
    outcomes: pd.Series,
    probabilities: pd.Series,
    threshold: float,
    level: float,
    min_per_class: int,
) -> Measured | NotEnough:
    """Realised metrics of measured predictions (their outcomes and probabilities)."""
    found = realised_performance(
        outcomes.to_numpy(dtype=np.int64),
        probabilities.to_numpy(dtype=np.float64),
        threshold,
        level,
        min_per_class,
    )
    return as_result(found)


def is_degraded(
    result: Measured | NotEnough, holdout_auc: float | None, max_auc_drop: float
) -> bool | None:
    """The rule above; None when it cannot be judged (too few outcomes, no hold-out AUC)."""
    if not isinstance(result, Measured) or holdout_auc is None:
        return None
    return result.auc.upper < holdout_auc - max_auc_drop


def describe_rule(level: float, max_auc_drop: float, min_per_class: int) -> str:
    return (
        f"ROC AUC with a {level:.0%} DeLong interval (logit scale), precision, recall and F1 at "
        f"the version's threshold and the Brier score, each outcome measured once on the "
        f"latest prediction it labels. A version is degraded when the whole interval of its "
        f"realised AUC lies more than {max_auc_drop:g} below its hold-out AUC. Fewer than "
        f"{min_per_class} churned or {min_per_class} retained customers with outcomes: "
        f"'{NotEnough.model_fields['status'].default}', and no metric is shown."
    )
