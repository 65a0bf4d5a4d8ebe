"""Helpers for the drift tests: judge a current frame against a reference frame in memory.

(A plain module, imported by name: pytest puts each test folder on ``sys.path``.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnops.data.generate import generate
from churnops.monitoring.columns import normalise
from churnops.monitoring.compare import Comparison, compare, prepare_reference
from churnops.monitoring.reference import frame_reference
from churnops.monitoring.rule import Thresholds
from churnops.schema import DEFAULT_SCHEMA


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
    rule = thresholds or Thresholds(**thresholds_kw)
    return compare(prepared, columns, prediction, rule, detail)


def customers(rows: int, seed: int) -> pd.DataFrame:
    """Clean generated customers: what training data and unshifted traffic look like."""
    return generate(rows, seed, dirt=False).frame


def drifted(comparison: Comparison) -> set[str]:
    return {name for name, entry in comparison.features.items() if entry["drifted"]}
