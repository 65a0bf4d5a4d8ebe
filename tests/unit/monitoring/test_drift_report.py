"""Reports: strict JSON with the fields the API's gauges read, and a self-contained HTML page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from drift_helpers import customers, judged_chunk, verdict

from churnops.monitoring.html_charts import STATUS_COLOURS, status_grid, timeline
from churnops.monitoring.report import LATEST
from churnops.monitoring.results import Chunk, FeatureResult, JudgedChunk
from churnops.monitoring.run import DriftOptions, DriftRun, run_drift
from churnops.monitoring.shifts import apply_shift
from churnops.monitoring.stats_tests import NumericStats
from churnops.settings import load_settings


def chunk(
    hour: int, features: dict[str, FeatureResult], prediction: FeatureResult | None = None
) -> JudgedChunk:
    return judged_chunk(f"2025-01-01T0{hour}:00:00Z", features, prediction)


@pytest.fixture
def price_run(tmp_path: Path) -> DriftRun:
    reference = tmp_path / "reference.csv"
    current = tmp_path / "current.csv"
    customers(5_000, 1).to_csv(reference, index=False)
    shifted = apply_shift(customers(2_000, 2), "price-increase", np.random.default_rng(0))
    shifted.to_csv(current, index=False)
    settings = load_settings(home=tmp_path / "home", drift_chunk="250")
    return run_drift(settings, DriftOptions(current=current, reference=reference, html=True))


def test_every_run_writes_a_timestamped_json(price_run: DriftRun) -> None:
    """It writes reports/drift_<timestamp>.json with the fields the API's Prometheus gauges
    read; an ad-hoc file run leaves reports/drift_latest.json (the gauges' source) alone."""
    assert re.fullmatch(r"drift_\d{8}T\d{6}Z(-\d+)?\.json", price_run.json_path.name)
    assert price_run.latest_path is None
    assert not (price_run.json_path.parent / LATEST).exists()
    stamped = json.loads(price_run.json_path.read_text(encoding="utf-8"))
    assert isinstance(stamped["generated_at"], str)
    assert stamped["drift_detected"] is True
    assert isinstance(stamped["drift_score"], float)
    entry = stamped["features"]["monthly_charges"]
    assert entry["status"] == "drift" and entry["drifted"] is True
    for key in ("psi", "ks_statistic", "ks_p_value", "wasserstein_norm", "reference_count"):
        assert isinstance(entry[key], float | int), key
    assert stamped["features"]["payment_method"]["status"] == "ok"
    assert "Holm" in stamped["rule"]


def test_chunks_show_the_drift_over_time(price_run: DriftRun) -> None:
    """It splits the rows into the requested chunks, each with its own verdict."""
    chunks = price_run.report.groups[0].chunks
    assert [c.rows for c in chunks] == [250] * 8
    monthly = [c.verdict("monthly_charges") for c in chunks]
    assert all(v is not None and v.status in {"drift", "warning"} for v in monthly)
    assert price_run.report.groups[0].drift_began == "row 1"


def test_html_report_is_one_offline_file(price_run: DriftRun) -> None:
    """It writes one HTML file with inline SVG charts, no script and no external resource."""
    assert price_run.html_path is not None
    page = price_run.html_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert 'src="' not in page and "<link" not in page
    assert page.count("<svg") == 1 + 5  # the timeline and one chart per feature
    assert "significant test" in page  # the over-time chart says what it plots
    for name in ("monthly_charges", "total_charges", "payment_method", "Drift over time"):
        assert name in page


def test_non_finite_statistics_are_written_as_null() -> None:
    """It never writes NaN or Infinity, which strict JSON readers reject, and turns numpy
    numbers into plain ones."""
    entry = verdict("ok", 0.0, psi=float("nan"), missing_rate_current=np.float64(0.25))
    untested = dict(NumericStats.untested())
    stats = NumericStats(**{**untested, "reference_count": np.int64(3), "wasserstein": np.inf})
    written = entry.model_copy(update={"numeric": stats}).model_dump(mode="json")
    assert written["psi"] is None and written["missing_rate_current"] == 0.25
    assert written["wasserstein"] is None and written["reference_count"] == 3
    assert json.dumps(written, allow_nan=False)


def test_the_timeline_shows_the_prediction_beside_the_features() -> None:
    """It draws the prediction's chunk verdicts in the over-time chart and the status grid."""
    chunks: list[Chunk] = [
        chunk(i, {"tenure": verdict("ok", 0.2)}, prediction=verdict(status, ratio, ratio))
        for i, (status, ratio) in enumerate((("ok", 0.0), ("drift", 2.0)))
    ]
    grid = status_grid(chunks, ["tenure", "prediction"])
    prediction_row = grid.split("<td>prediction</td>")[1].split("</tr>")[0]
    assert STATUS_COLOURS["drift"] in prediction_row and STATUS_COLOURS[None] not in prediction_row
    assert "prediction · 2025-01-01T01:00:00Z: drift" in timeline(chunks, ["prediction"])


def test_the_timeline_plots_only_significant_effects() -> None:
    """It draws a calm chunk's large but non-significant effect at zero, below the drift floor
    line, and a significant one at its ratio."""
    chunks: list[Chunk] = [
        chunk(i, {"tenure": verdict(status, 3.0, significant=sig)})
        for i, (status, sig) in enumerate((("ok", 0.0), ("drift", 3.0)))
    ]
    svg = timeline(chunks, ["tenure"])
    floor_y = float(re.search(r'<line [^>]*y1="([\d.]+)"[^>]*stroke-dasharray', svg).group(1))  # type: ignore[union-attr]
    calm_y, drift_y = (float(y) for y in re.findall(r'<circle [^>]*cy="([\d.]+)"', svg))
    assert calm_y > floor_y > drift_y  # SVG y grows downwards
    assert "significant effect ÷ floor 0.00; any effect ÷ floor 3.00" in svg


def test_the_page_says_what_to_do_next(price_run: DriftRun) -> None:
    """It tells, for each drifting feature, what to check and how to retrain."""
    assert price_run.html_path is not None
    page = price_run.html_path.read_text(encoding="utf-8")
    assert "What to do next" in page
    assert "check the upstream source of monthly_charges first" in page
    assert "churnops train --data" in page
    assert "<b>When:</b> drift in every chunk" in page


def test_category_names_are_written_in_full(price_run: DriftRun) -> None:
    """It writes every category name whole (no 'Bank transf…'), and no name anywhere cut."""
    assert price_run.html_path is not None
    page = price_run.html_path.read_text(encoding="utf-8")
    for category in ("Bank transfer (automatic)", "Credit card (automatic)", "Month-to-month"):
        assert f">{category}</text>" in page, category
    assert "…" not in page
