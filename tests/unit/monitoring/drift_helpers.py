"""Helpers for the drift tests: judge a current frame against a reference frame in memory.

(A plain module, imported by name: pytest puts each test folder on ``sys.path``.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnops.data.generate import generate
from churnops.monitoring.columns import normalise
from churnops.monitoring.compare import Comparison, compare, prepare_reference
from churnops.monitoring.drift import Group, judge_group
from churnops.monitoring.reference import frame_reference
from churnops.monitoring.results import (
    Bounds,
    Chunk,
    FeatureResult,
    GroupResult,
    JudgedChunk,
    ReferenceInfo,
)
from churnops.monitoring.rule import Judgement, Thresholds
from churnops.monitoring.window import ChunkSpec
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema
from churnops.settings import Settings

AUTO = ChunkSpec("auto", 10)


def judge_frames(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    thresholds: Thresholds | None = None,
    prediction: np.ndarray | None = None,
    detail: bool = True,
    schema: FeatureSchema = DEFAULT_SCHEMA,
    **thresholds_kw: Any,
) -> Comparison:
    prepared = prepare_reference(frame_reference(reference, "reference", schema), 10)
    columns, _ = normalise(current, schema)
    rule = thresholds or thresholds_with(**thresholds_kw)
    return compare(prepared, columns, prediction, rule, detail)


def judge_over_time(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    ts: np.ndarray | None = None,
    chunks: ChunkSpec = AUTO,
    **thresholds_kw: Any,
) -> GroupResult:
    """One model version's full judgement, as a log run makes it: the whole window, then
    chunk by chunk, and the overall rule over both (rows in time order)."""
    columns, _ = normalise(current, DEFAULT_SCHEMA)
    group = Group(frame_reference(reference, "reference"), columns, None, ts, 1)
    return judge_group(group, thresholds_with(**thresholds_kw), chunks, 10)


def customers(rows: int, seed: int) -> pd.DataFrame:
    """Clean generated customers: what training data and unshifted traffic look like."""
    return generate(rows, seed, dirt=False).frame


def drifted(comparison: Comparison) -> set[str]:
    return {name for name, entry in comparison.features.items() if entry.drifted}


def thresholds_with(**overrides: Any) -> Thresholds:
    """The default thresholds (from Settings), with some changed."""
    return Thresholds.from_settings(Settings()).model_copy(update=overrides)


def verdict(
    status: Judgement = "ok", effect: float = 0.0, significant: float = 0.0, **fields: object
) -> FeatureResult:
    """A verdict on one feature as chunks carry it (no statistics), other fields given."""
    values: dict[str, object] = {
        "kind": "numeric",
        "status": status,
        "drifted": status == "drift",
        "effect_ratio": effect,
        "significant_effect_ratio": significant,
        "psi": None,
        "p_value_adjusted": None,
        "current_rows": 100,
        "current_count": 100,
        "missing_rate_current": 0.0,
    }
    return FeatureResult.model_validate({**values, **fields})


def judged_chunk(
    start: str,
    features: dict[str, FeatureResult],
    prediction: FeatureResult | None = None,
    drifted: bool = False,
    end: str | None = None,
) -> JudgedChunk:
    return JudgedChunk(
        rows=100,
        drift_detected=drifted,
        drift_score=1.0 if drifted else 0.0,
        features=features,
        prediction=prediction,
        bounds=Bounds(start=start, end=end or start),
    )


def group_result(
    chunks: list[Chunk],
    features: dict[str, FeatureResult] | None = None,
    prediction: FeatureResult | None = None,
    window_drift: bool = True,
) -> GroupResult:
    """One model version's judgement built by hand (its latest chunks drift if the last two
    given do)."""
    recent = len(chunks) >= 2 and all(c.drift_detected for c in chunks[-2:])
    return GroupResult(
        model_version=1,
        reference=ReferenceInfo(
            label="v1", version=1, sample_rows=100, training_rows=100, prediction_rows=0
        ),
        skipped_features={},
        rows=100 * len(chunks),
        drift_detected=window_drift or recent,
        drift_score=0.0,
        window_drift=window_drift,
        recent_drift=recent,
        features=features or {},
        prediction=prediction,
        first_ts=None,
        last_ts=None,
        drift_began=None,
        drift_ended=None,
        chunks=chunks,
    )
