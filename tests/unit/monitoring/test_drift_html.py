"""The HTML report's charts: round ticks and units on the axes, full category names, time
labels on the chunk grid, a legend of only what is drawn, and advice per finding."""

from __future__ import annotations

import re

from drift_helpers import group_result, judged_chunk, verdict

from churnops.monitoring.html_charts import (
    category_bars,
    numeric_histogram,
    short_times,
    status_grid,
    timeline,
)
from churnops.monitoring.narrative import next_steps
from churnops.monitoring.results import CategoricalHistogram, NumericHistogram


def labels(svg: str) -> list[str]:
    return re.findall(r"<text [^>]*>([^<]*)</text>", svg)


def test_numeric_axes_have_round_ticks_and_units() -> None:
    """It labels the x axis with round numbers across the range and the feature's
    description, and the y axis with shares of rows."""
    edges = [i * 8_123.4 / 30 for i in range(31)]
    shares = [1 / 30] * 30
    hist = NumericHistogram(edges=edges, reference=shares, current=shares)
    svg = numeric_histogram(verdict(), hist, "total_charges — Billed to date")
    text = labels(svg)
    x_ticks = [t for t in text if t.replace(",", "").isdigit()]
    assert x_ticks[-5:] == ["0", "2,000", "4,000", "6,000", "8,000"]  # within the range
    assert "total_charges — Billed to date" in text and "% of rows" in text
    assert any(t.endswith("%") for t in text)
    assert "reference" in text and "current" in text


def test_category_bars_keep_long_names_and_mark_new_values() -> None:
    """It writes long category names whole and marks a value never seen in training."""
    names = ["Bank transfer (automatic)", "Electronic check", "Digital wallet"]
    hist = CategoricalHistogram(
        categories=names, reference=[0.5, 0.5, 0.0], current=[0.4, 0.5, 0.1]
    )
    entry = verdict("drift", 2.0, 2.0, kind="categorical", unseen_values={"Digital wallet": 10})
    text = labels(category_bars(entry, hist, "payment_method: % of rows"))
    assert "Bank transfer (automatic)" in text and "Digital wallet (new)" in text
    assert "50.0% → 40.0%" in text


def test_chunk_labels_give_the_time_and_the_unit() -> None:
    """It labels chunks by their start time (the date once, in the axis title, when they
    share it), or by their first row for a file."""
    same_day = [judged_chunk(f"2025-06-16T0{h}:00:00Z", {}) for h in range(3)]
    assert short_times(same_day) == (["00:00", "01:00", "02:00"], "chunk start, UTC, 2025-06-16")
    two_days = [judged_chunk("2025-06-16T23:00:00Z", {}), judged_chunk("2025-06-17T00:00:00Z", {})]
    assert short_times(two_days)[0] == ["06-16 23:00", "06-17 00:00"]
    grid = status_grid(same_day, ["tenure"])
    assert "<span>01:00</span>" in grid and "chunk start, UTC, 2025-06-16" in grid


def test_the_legend_names_only_the_lines_drawn() -> None:
    """It draws (and lists in the legend) only the features with a significant effect in some
    chunk; the others would be flat lines hidden under each other at zero."""
    chunks = [
        judged_chunk(
            f"2025-06-16T0{h}:00:00Z",
            {
                "tenure": verdict(),
                "monthly_charges": verdict(*(("drift", 2.0, 2.0) if h == 2 else ("ok",))),
                "contract_type": verdict(kind="categorical"),
            },
        )
        for h in range(4)
    ]
    svg = timeline(chunks, ["tenure", "monthly_charges", "contract_type"])
    assert svg.count("<polyline") == 1
    assert "monthly_charges" in labels(svg)
    assert "tenure" not in labels(svg) and "contract_type" not in labels(svg)


def test_prediction_drift_with_calm_inputs_suggests_a_rollback() -> None:
    """It suggests rolling back when only the predicted probabilities moved."""
    features = {"tenure": verdict(), "contract_type": verdict()}
    group = group_result([], features, prediction=verdict("drift", 2.0, 2.0))
    [advice] = next_steps(group, 0.05)
    assert advice.name == "prediction" and any("churnops rollback" in s for s in advice.steps)
