"""The performance report from labelled predictions: per version, over the whole window and
per period, beside the version's hold-out metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnops.monitoring.window import ChunkSpec, chunk_bounds, iso
from churnops.outcomes.store import BATCH
from churnops.performance.measure import is_degraded, measure, one_per_outcome
from churnops.performance.results import HoldOut, Measured, NotEnough, Period, VersionPerformance


@dataclass(frozen=True)
class Measuring:
    """How to measure: the interval's level, the minimum per class, the tolerated drop and
    the periods."""

    level: float
    min_per_class: int
    max_auc_drop: float
    chunk: ChunkSpec


@dataclass(frozen=True)
class Version:
    """What the report needs of a version: its number (None: all together), threshold and
    hold-out metrics."""

    number: int | None
    threshold: float
    holdout: HoldOut | None


def _measured(frame: pd.DataFrame, threshold: float, how: Measuring) -> Measured | NotEnough:
    used = frame[frame["measured"]]
    return measure(used["outcome"], used["probability"], threshold, how.level, how.min_per_class)


def _coverage(labelled: int, predictions: int) -> float:
    return labelled / predictions if predictions else 0.0


def _periods(frame: pd.DataFrame, version: Version, how: Measuring) -> list[Period]:
    ts = frame["ts"].to_numpy(dtype=np.float64)
    holdout_auc = version.holdout.roc_auc if version.holdout else None
    periods = []
    for start, stop in chunk_bounds(how.chunk, len(frame), ts, 2 * how.min_per_class):
        part = frame.iloc[start:stop]
        part = part.assign(measured=one_per_outcome(part))  # each outcome once per period
        result = _measured(part, version.threshold, how)
        labelled = int(part["outcome_id"].notna().sum())
        periods.append(
            Period(
                start=iso(float(ts[start])),
                end=iso(float(ts[stop - 1])),
                predictions=len(part),
                labelled=labelled,
                coverage=_coverage(labelled, len(part)),
                realised=result,
                degraded=is_degraded(result, holdout_auc, how.max_auc_drop),
            )
        )
    return periods


def _finding(version: Version, result: Measured | NotEnough, how: Measuring) -> str | None:
    holdout = version.holdout
    if not isinstance(result, Measured) or holdout is None or holdout.roc_auc is None:
        return None
    auc = result.auc
    name = "every version" if version.number is None else f"v{version.number}"
    return (
        f"{name}: realised ROC AUC {auc.auc:.3f} ({auc.level:.0%} interval {auc.lower:.3f}–"
        f"{auc.upper:.3f}, {result.outcomes:,} outcomes) is below its hold-out AUC "
        f"{holdout.roc_auc:.3f} by more than {how.max_auc_drop:g}: retrain on recent labelled "
        "data, or roll back"
    )


def version_performance(
    frame: pd.DataFrame, version: Version, how: Measuring
) -> VersionPerformance:
    """One version's predictions (``ts``, ``probability``, ``outcome``, ``outcome_id``,
    ``BATCH``; in time order) measured over the whole window and per period."""
    frame = frame.assign(measured=one_per_outcome(frame))
    result = _measured(frame, version.threshold, how)
    holdout_auc = version.holdout.roc_auc if version.holdout else None
    degraded = is_degraded(result, holdout_auc, how.max_auc_drop)
    has_outcome = frame["outcome_id"].notna()
    labelled = int(has_outcome.sum())
    batch = frame[BATCH].to_numpy(dtype=bool)
    return VersionPerformance(
        model_version=version.number,
        predictions=len(frame),
        labelled=labelled,
        coverage=_coverage(labelled, len(frame)),
        realised=result,
        holdout=version.holdout,
        degraded=degraded,
        finding=_finding(version, result, how) if degraded else None,
        periods=_periods(frame, version, how),
        from_scores=int(batch.sum()),
        labelled_from_scores=int((batch & has_outcome.to_numpy(dtype=bool)).sum()),
    )
