"""The HTML report's charts: round ticks and units on the axes, full category names, time
labels on the chunk grid, a legend of only what is drawn, and advice per finding."""

from __future__ import annotations

import re

from churnops.monitoring.html_charts import (
    category_bars,
    numeric_histogram,
    short_times,
    status_grid,
    timeline,
)
from churnops.monitoring.narrative import next_steps
from churnops.monitoring.results import (
    Bounds,
    CategoricalHistogram,
    Chunk,
    FeatureResult,
    GroupResult,
    JudgedChunk,
    NumericHistogram,
    ReferenceInfo,
)


def verdict(status: str = "ok", significant: float = 0.0, **fields: object) -> FeatureResult:
    values: dict[str, object] = {
        "kind": "numeric",
        "status": status,
        "drifted": status == "drift",
        "effect_ratio": significant,
        "significant_effect_ratio": significant,
        "psi": None,
        "p_value_adjusted": None,
        "current_rows": 100,
        "current_count": 100,
        "missing_rate_current": 0.0,
    }
    return FeatureResult.model_validate({**values, **fields})


def chunk(start: str, features: dict[str, FeatureResult]) -> Chunk:
    return JudgedChunk(
        rows=100,
        drift_detected=False,
        drift_score=0.0,
        features=features,
        prediction=None,
        bounds=Bounds(start=start, end=start),
    )


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
    entry = verdict("drift", 2.0, kind="categorical", unseen_values={"Digital wallet": 10})
    text = labels(category_bars(entry, hist, "payment_method: % of rows"))
    assert "Bank transfer (automatic)" in text and "Digital wallet (new)" in text
    assert "50.0% → 40.0%" in text


def test_chunk_labels_give_the_time_and_the_unit() -> None:
    """It labels chunks by their start time (the date once, in the axis title, when they
    share it), or by their first row for a file."""
    same_day = [chunk(f"2025-06-16T0{h}:00:00Z", {}) for h in range(3)]
    assert short_times(same_day) == (["00:00", "01:00", "02:00"], "chunk start, UTC, 2025-06-16")
    two_days = [chunk("2025-06-16T23:00:00Z", {}), chunk("2025-06-17T00:00:00Z", {})]
    assert short_times(two_days)[0] == ["06-16 23:00", "06-17 00:00"]
    grid = status_grid(same_day, ["tenure"])
    assert "<span>01:00</span>" in grid and "chunk start, UTC, 2025-06-16" in grid


def test_the_legend_names_only_the_lines_drawn() -> None:
    """It draws (and lists in the legend) only the features with a significant effect in some
    chunk; the others would be flat lines hidden under each other at zero."""
    chunks = [
        chunk(
            f"2025-06-16T0{h}:00:00Z",
            {
                "tenure": verdict(),
                "monthly_charges": verdict("drift" if h == 2 else "ok", 2.0 if h == 2 else 0.0),
                "contract_type": verdict(kind="categorical"),
            },
        )
        for h in range(4)
    ]
    svg = timeline(chunks, ["tenure", "monthly_charges", "contract_type"])
    assert svg.count("<polyline") == 1
    assert "monthly_charges" in labels(svg)
    assert "tenure" not in labels(svg) and "contract_type" not in labels(svg)


def group_with(prediction: FeatureResult, features: dict[str, FeatureResult]) -> GroupResult:
    return GroupResult(
        model_version=2,
        reference=ReferenceInfo(
            label="v2", version=2, sample_rows=10, training_rows=10, prediction_rows=10
        ),
        skipped_features={},
        rows=100,
        drift_detected=True,
        drift_score=0.0,
        window_drift=True,
        recent_drift=False,
        features=features,
        prediction=prediction,
        first_ts=None,
        last_ts=None,
        drift_began=None,
        drift_ended=None,
        chunks=[],
    )


def test_prediction_drift_with_calm_inputs_suggests_a_rollback() -> None:
    """It suggests rolling back when only the predicted probabilities moved."""
    group = group_with(verdict("drift", 2.0), {"tenure": verdict(), "contract_type": verdict()})
    [advice] = next_steps(group, 0.05)
    assert advice.name == "prediction" and any("churnops rollback" in s for s in advice.steps)
