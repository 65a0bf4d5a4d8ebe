"""Drift over time: a drift that began recently is reported, and dated, even when the whole
window (diluted by a long calm history) stays below the floors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from drift_helpers import customers, judge_over_time, judged_chunk

from churnops.monitoring.drift import latest_drift_run, recent_chunks
from churnops.monitoring.results import Bounds, Chunk, UnjudgedChunk
from churnops.monitoring.shifts import apply_shift

DAY = 86_400.0
START = 1_750_032_000.0  # 2025-06-16T00:00:00Z


def chunk(start: str, end: str, drifted: bool | None) -> Chunk:
    """A chunk with its verdict only (None: too few rows to judge)."""
    if drifted is None:
        bounds = Bounds(start=start, end=end)
        return UnjudgedChunk(rows=10, bounds=bounds, note="fewer than 30 rows")
    return judged_chunk(start, {}, drifted=drifted, end=end)


def calm_then(shift: str, calm_rows: int, shifted_rows: int, seed: int = 0) -> pd.DataFrame:
    calm = customers(calm_rows, 100 + seed)
    moved = apply_shift(customers(shifted_rows, 200 + seed), shift, np.random.default_rng(seed))
    return pd.concat([calm, moved], ignore_index=True)


def test_a_price_increase_on_the_last_day_is_drift() -> None:
    """It reports drift when only the last of four days has 10% higher prices: the whole window
    does not drift, the last chunks do, and the report says when it began and which feature."""
    current = calm_then("price-increase", 2_400, 800)
    ts = START + np.arange(len(current)) * (4 * DAY / len(current))
    group = judge_over_time(customers(10_000, 1), current, ts)
    assert group.window_drift is False  # what the whole-window rule alone would say
    assert group.drift_detected is True and group.recent_drift is True
    monthly = group.features["monthly_charges"]
    assert monthly.status == "drift" and monthly.recent_drift is True
    assert monthly.reasons and "last 2 chunks" in monthly.reasons[0]
    assert group.features["contract_type"].status != "drift"
    assert group.drift_score > 0
    began = pd.Timestamp(group.drift_began)
    assert pd.Timestamp(START + 3 * DAY, unit="s", tz="UTC") <= began
    assert group.drift_ended is None


def test_a_drift_that_stopped_is_dated_but_not_current() -> None:
    """It dates a run of drifting chunks in the middle of the window (began and ended) without
    calling the window drifting once the latest chunks are calm again."""
    middle = calm_then("contract-shift", 2_000, 500, seed=1)
    current = pd.concat([middle, customers(2_500, 301)], ignore_index=True)
    group = judge_over_time(customers(10_000, 2), current)
    assert group.drift_detected is False and group.recent_drift is False
    statuses = [c.drift_detected for c in group.chunks]
    assert statuses[4] is True and statuses[-2:] == [False, False]
    assert group.drift_began == "row 2001"
    assert group.drift_ended == "row 2500"


@pytest.mark.parametrize(
    ("flags", "recent", "began"),
    [
        ([True, False, True, True], [2, 3], 2),
        ([True, True, False], [], 0),
        ([False, True, True, None], [1, 2], 1),  # a short, unjudged last chunk is passed over
        ([False, True], [], 1),  # one drifting chunk is not enough
        ([False, False], [], None),
    ],
)
def test_recent_chunks_and_the_latest_run(
    flags: list[bool | None], recent: list[int], began: int | None
) -> None:
    """It takes the last two judged chunks when both drift, and dates the latest run of
    drifting chunks whether or not it is still going on."""
    timeline = [chunk(f"t{i}", f"e{i}", flag) for i, flag in enumerate(flags)]
    assert [timeline.index(c) for c in recent_chunks(timeline, 2)] == recent
    assert latest_drift_run(timeline)[0] == (None if began is None else f"t{began}")
