"""Gauges of realised performance, from the latest ``churnops performance`` run
(``reports/performance_latest.json``), per model version: read at scrape time, never on the
request path. A version with too few outcomes gets its counts only, never a realised metric."""

from __future__ import annotations

from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric

from churnops.performance.results import Measured, PerformanceReport, VersionPerformance

REALISED = {
    "auc": "Realised ROC AUC on true outcomes",
    "auc_lower": "Lower end of the realised ROC AUC's interval",
    "auc_upper": "Upper end of the realised ROC AUC's interval",
    "precision": "Realised precision at the version's threshold",
    "recall": "Realised recall at the version's threshold",
    "f1": "Realised F1 at the version's threshold",
    "brier": "Realised Brier score (mean squared error of the probabilities)",
}


def _label(version: VersionPerformance) -> str:
    return "all" if version.model_version is None else str(version.model_version)


def _realised(result: Measured) -> dict[str, float]:
    auc = result.auc
    return {
        "auc": auc.auc,
        "auc_lower": auc.lower,
        "auc_upper": auc.upper,
        "precision": result.precision,
        "recall": result.recall,
        "f1": result.f1,
        "brier": result.brier,
    }


def _gauge(name: str, text: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, labels=["model_version"])


def performance_families(data: bytes) -> list[Metric]:
    report = PerformanceReport.from_json(data)
    when = datetime.fromisoformat(report.generated_at.replace("Z", "+00:00"))
    coverage = _gauge("churnops_outcome_coverage", "Share of predictions with a true outcome")
    outcomes = _gauge("churnops_outcomes_measured", "Distinct true outcomes measured")
    degraded = _gauge(
        "churnops_performance_degraded",
        "1 when the realised ROC AUC's interval lies below the hold-out AUC by more than the "
        "tolerated drop (only versions with enough outcomes)",
    )
    holdout = _gauge("churnops_holdout_auc", "ROC AUC on the hold-out at training time")
    realised = {key: _gauge(f"churnops_realised_{key}", text) for key, text in REALISED.items()}
    for version in report.versions:
        label = [_label(version)]
        coverage.add_metric(label, version.coverage)
        result = version.realised
        outcomes.add_metric(label, result.outcomes if isinstance(result, Measured) else 0)
        if version.holdout is not None and version.holdout.roc_auc is not None:
            holdout.add_metric(label, version.holdout.roc_auc)
        if version.degraded is not None:
            degraded.add_metric(label, int(version.degraded))
        if isinstance(result, Measured):
            for key, value in _realised(result).items():
                realised[key].add_metric(label, value)
    stamp = GaugeMetricFamily(
        "churnops_performance_report_timestamp_seconds",
        "When the last performance report was generated (epoch seconds)",
        value=when.timestamp(),
    )
    return [stamp, coverage, outcomes, degraded, holdout, *realised.values()]
