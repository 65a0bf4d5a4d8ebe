"""A performance report as ``churnops performance`` writes it, for the tests of what the API
exposes from it (alert rules, dashboard).

(A plain module, imported by name: ``tests/`` is on ``sys.path``.)"""

from __future__ import annotations

from churnops.performance.results import (
    AucInterval,
    HoldOut,
    Measured,
    PerformanceReport,
    PerformanceSettings,
    VersionPerformance,
)


def performance_report() -> PerformanceReport:
    """A performance report of one degraded version, every gauge's value present."""
    measured = Measured(
        outcomes=400,
        churned=100,
        stayed=300,
        auc=AucInterval(auc=0.7, lower=0.65, upper=0.75, level=0.95, std_error=0.02, method="m"),
        threshold=0.5,
        precision=0.5,
        recall=0.4,
        f1=0.44,
        accuracy=0.7,
        brier=0.2,
    )
    holdout = HoldOut(roc_auc=0.84, precision=0.6, recall=0.5, f1=0.55, brier=0.13, rows=800)
    version = VersionPerformance(
        model_version=1,
        predictions=500,
        labelled=400,
        coverage=0.8,
        realised=measured,
        holdout=holdout,
        degraded=True,
        finding="v1 degraded",
        periods=[],
    )
    return PerformanceReport(
        generated_at="2025-06-01T12:00:00Z",
        degraded=True,
        window="the whole log",
        inference_log="logs/inference.sqlite",
        join_rule="rule",
        rule="rule",
        settings=PerformanceSettings(
            min_per_class=50, max_auc_drop=0.02, level=0.95, chunk="1w", outcome_window_days=90
        ),
        versions=[version],
        notes=[],
    )
