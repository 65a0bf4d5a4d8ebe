"""Prometheus collectors: valid exposition, correct buckets, drift gauges from the report."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from serving_support import inputs_for

from churnops.atomic import atomic_write_json
from churnops.serving.metrics import PROBABILITY_EDGES, ProbabilityHistogram, ServingMetrics
from churnops.serving.predictor import Predictor
from churnops.settings import Settings

EXAMPLE = Path(__file__).parents[2] / "integration" / "drift_examples" / "file_price_increase.json"


def drift_report() -> dict[str, Any]:
    """A real drift report (a stored example) with the verdicts the gauges are checked on."""
    report: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    report.update(generated_at="2025-06-01T12:00:00Z", drift_detected=True, drift_score=0.42)
    features = report["features"]
    features["tenure"].update(status="drift", drifted=True, psi=0.31)
    features["monthly_charges"].update(status="warning", drifted=False, psi=0.15)
    features["contract_type"].update(status="ok", drifted=False, psi=None)
    return report


REPORT = drift_report()


def samples(exposition: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse the text format (raises on invalid text) into {(name, labels): value}."""
    parsed = {}
    for family in text_string_to_metric_families(exposition.decode()):
        for sample in family.samples:
            parsed[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return parsed


def test_probability_histogram_matches_prometheus_histogram() -> None:
    """Bulk and single observations give the buckets prometheus-client's Histogram gives."""
    values = np.random.default_rng(0).random(1_000)
    values[:5] = [0.0, 0.05, 0.5, 1.0, 0.95]  # edges included, as Prometheus' `le`
    ours = ProbabilityHistogram()
    ours.observe_many(values[:600])
    for value in values[600:]:
        ours.observe_one(float(value))
    registry = CollectorRegistry()
    registry.register(ours)
    reference = Histogram("reference", "", buckets=PROBABILITY_EDGES, registry=CollectorRegistry())
    for value in values:
        reference.observe(float(value))
    expected = {
        s.labels["le"]: s.value
        for s in next(iter(reference.collect())).samples
        if s.name.endswith("_bucket")
    }
    got = samples(generate_latest(registry))
    for le, count in expected.items():
        assert got[("churnops_prediction_probability_bucket", (("le", le),))] == count
    assert np.isclose(got[("churnops_prediction_probability_sum", ())], values.sum())


def test_drift_gauges_follow_the_report_file(settings: Settings, tmp_path: Path) -> None:
    """No file: no drift gauges. A report: its gauges. A new report: new values."""
    report = tmp_path / "drift_latest.json"
    metrics = ServingMetrics(Predictor(settings, inputs_for), None, report)
    assert not any(name.startswith("churnops_drift") for name, _ in samples(metrics.exposition()))
    atomic_write_json(report, REPORT)
    got = samples(metrics.exposition())
    assert got[("churnops_drift_detected", ())] == 1
    assert got[("churnops_drift_score", ())] == 0.42
    assert got[("churnops_feature_psi", (("feature", "tenure"),))] == 0.31
    assert ("churnops_feature_psi", (("feature", "contract_type"),)) not in got  # psi null
    assert got[("churnops_feature_drift_status", (("feature", "tenure"),))] == 2
    assert got[("churnops_feature_drift_status", (("feature", "monthly_charges"),))] == 1
    assert got[("churnops_feature_drift_status", (("feature", "contract_type"),))] == 0
    atomic_write_json(report, {**REPORT, "drift_detected": False, "drift_score": 0.01})
    stat = report.stat()
    os.utime(report, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # coarse clocks
    got = samples(metrics.exposition())
    assert got[("churnops_drift_detected", ())] == 0 and got[("churnops_drift_score", ())] == 0.01


def test_a_broken_report_gives_no_drift_gauges_and_no_error(
    settings: Settings, tmp_path: Path
) -> None:
    """An unreadable report is ignored (scrapes keep working)."""
    report = tmp_path / "drift_latest.json"
    report.write_text(json.dumps({"drift_detected": True}))  # no drift_score
    metrics = ServingMetrics(Predictor(settings, inputs_for), None, report)
    got = samples(metrics.exposition())
    assert not any(name.startswith("churnops_drift") for name, _ in got)
    assert ("churnops_model_ready", ()) in got


def test_model_state_is_exposed(settings: Settings, tmp_path: Path) -> None:
    """Ready, version and reload counters reflect the predictor."""
    predictor = Predictor(settings, inputs_for)
    metrics = ServingMetrics(predictor, None, tmp_path / "none.json")
    assert samples(metrics.exposition())[("churnops_model_ready", ())] == 0
    predictor.refresh()
    got = samples(metrics.exposition())
    assert got[("churnops_model_ready", ())] == 1
    assert got[("churnops_model_version", ())] == 1
    assert got[("churnops_model_features", ())] == 5
    assert got[("churnops_model_reloads_total", ())] == 1
    assert got[("churnops_model_reload_failures_total", ())] == 0
