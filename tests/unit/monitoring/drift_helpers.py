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
from churnops.monitoring.results import GroupResult
from churnops.monitoring.rule import Thresholds
from churnops.monitoring.window import ChunkSpec
from churnops.schema import DEFAULT_SCHEMA
from churnops.settings import Settings

AUTO = ChunkSpec("auto", 10)


def judge_frames(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    thresholds: Thresholds | None = None,
    prediction: np.ndarray | None = None,
    detail: bool = True,
    **thresholds_kw: Any,
) -> Comparison:
    prepared = prepare_reference(frame_reference(reference, "reference"), 10)
    columns, _ = normalise(current, DEFAULT_SCHEMA)
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
    return judge_group(group, thresholds_with(**thresholds_kw), chunks, 10, DEFAULT_SCHEMA)


def customers(rows: int, seed: int) -> pd.DataFrame:
    """Clean generated customers: what training data and unshifted traffic look like."""
    return generate(rows, seed, dirt=False).frame


def drifted(comparison: Comparison) -> set[str]:
    return {name for name, entry in comparison.features.items() if entry.drifted}


def thresholds_with(**overrides: Any) -> Thresholds:
    """The default thresholds (from Settings), with some changed."""
    return Thresholds.from_settings(Settings()).model_copy(update=overrides)
