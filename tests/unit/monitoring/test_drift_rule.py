"""The decision rule: significance AND an effect floor, warnings, and the overall verdict."""

from __future__ import annotations

import pytest
from drift_helpers import thresholds_with

from churnops.monitoring.rule import Thresholds, feature_verdict, overall
from churnops.monitoring.stats_tests import (
    CategoricalResult,
    CategoricalStats,
    MissingResult,
    MissingStats,
    NumericResult,
    NumericStats,
)
from churnops.settings import load_settings

RULE = thresholds_with()


def numeric(
    psi: float = 0.0, wasserstein_norm: float = 0.0, mean_change: float | None = None
) -> NumericResult:
    stats = NumericStats(
        reference_count=1000,
        ks_statistic=0.1,
        ks_p_value=1e-9,
        ks_p_value_adjusted=None,
        wasserstein=1.0,
        wasserstein_norm=wasserstein_norm,
        reference_mean=1.0,
        current_mean=1.1,
        mean_change=mean_change,
        mean_p_value=None if mean_change is None else 1e-12,
    )
    return NumericResult(psi, 1000, stats)


def categorical(psi: float = 0.0, js: float = 0.0, unseen: float = 0.0) -> CategoricalResult:
    stats = CategoricalStats(
        reference_count=1000,
        chi2_statistic=50.0,
        chi2_dof=3,
        chi2_p_value=1e-9,
        chi2_p_value_adjusted=None,
        js_distance=js,
        unseen_share=unseen,
    )
    return CategoricalResult(psi, 1000, stats)


def missing_rates(reference: float, current: float, p_value: float) -> MissingResult:
    stats = MissingStats(
        missing_rate_reference=reference,
        missing_rate_change=current - reference,
        missing_p_value=p_value,
        missing_p_value_adjusted=None,
    )
    return MissingResult(current, stats)


def test_significant_but_small_is_ok() -> None:
    """It does not flag a change that is significant but below every effect floor."""
    verdict = feature_verdict(numeric(psi=0.01, wasserstein_norm=0.02), 1e-30, None, None, RULE)
    assert verdict.status == "ok" and not verdict.drifted


def test_large_but_not_significant_is_ok() -> None:
    """It does not flag a large apparent change that is not significant after correction."""
    verdict = feature_verdict(numeric(psi=0.9, wasserstein_norm=0.9), 0.2, None, None, RULE)
    assert verdict.status == "ok"
    assert verdict.effect_ratio == pytest.approx(9.0)


@pytest.mark.parametrize(
    ("dist", "reason"),
    [
        (numeric(psi=0.25), "PSI"),
        (numeric(wasserstein_norm=0.12), "Wasserstein/std"),
        (numeric(wasserstein_norm=0.09, mean_change=-0.08), "relative mean change"),
        (categorical(js=0.15), "JS distance"),
        (categorical(unseen=0.02), "unseen share"),
    ],
)
def test_significant_and_large_is_drift(
    dist: NumericResult | CategoricalResult, reason: str
) -> None:
    """It flags drift when the test is significant and any effect reaches its floor."""
    verdict = feature_verdict(dist, 0.001, None, None, RULE)
    assert verdict.status == "drift" and verdict.drifted
    assert any(reason in text for text in verdict.reasons)


def test_warning_between_the_warning_level_and_the_floor() -> None:
    """It warns when significant with PSI at the warning level or another effect at half
    its floor."""
    assert feature_verdict(numeric(psi=0.12), 0.001, None, None, RULE).status == "warning"
    assert feature_verdict(numeric(wasserstein_norm=0.06), 0.001, None, None, RULE).status == (
        "warning"
    )
    assert feature_verdict(numeric(wasserstein_norm=0.04), 0.001, None, None, RULE).status == "ok"


def test_any_unseen_category_is_at_least_a_warning() -> None:
    """It warns about values never seen in training even when too few to be significant."""
    verdict = feature_verdict(categorical(unseen=0.001), 0.5, None, None, RULE)
    assert verdict.status == "warning"
    assert "never seen in training" in verdict.reasons[0]


def test_missing_rate_change_alone_can_drift() -> None:
    """It flags a significant missing-rate change at its floor even if the present values
    did not move."""
    missing = missing_rates(0.0, 0.08, 1e-12)
    verdict = feature_verdict(numeric(), 1.0, missing, 1e-10, RULE)
    assert verdict.status == "drift"
    assert "missing rate" in verdict.reasons[0]
    small = missing_rates(0.0, 0.01, 1e-3)
    assert feature_verdict(numeric(), 1.0, small, 1e-2, RULE).status == "ok"


def test_feature_with_no_test_is_not_an_error() -> None:
    """It raises nothing and finds no drift for a feature with no present values on either
    side (the comparison then reports it as 'not compared', see test_drift_inputs)."""
    verdict = feature_verdict(None, None, missing_rates(1.0, 1.0, 1.0), 1.0, RULE)
    assert verdict.status == "ok" and verdict.effect_ratio == 0.0


def test_overall_rule() -> None:
    """It calls overall drift when at least one and at least drift_share of the features drift,
    or when the prediction drifts; the score is the share of drifting features."""
    assert overall(["ok"] * 5, None, RULE) == (False, 0.0)
    assert overall(["drift", "ok", "ok", "ok", "ok"], None, RULE) == (True, 0.2)
    assert overall(["warning"] * 5, "warning", RULE) == (False, 0.0)
    assert overall(["ok"] * 5, "drift", RULE) == (True, 0.0)
    strict = thresholds_with(drift_share=0.5)
    assert overall(["drift", "drift", "ok", "ok", "ok"], None, strict) == (False, 0.4)
    assert overall([], None, RULE) == (False, 0.0)


def test_features_not_compared_are_left_out_of_the_score() -> None:
    """It computes the drift share over the compared features only: an untested feature is
    neither ok nor drifting."""
    assert overall(["drift", "not compared", "not compared", "ok"], None, RULE) == (True, 0.5)
    assert overall(["not compared"] * 3, None, RULE) == (False, 0.0)


def test_the_rule_text_states_the_recent_chunks_arm() -> None:
    """It says in the report's rule text that the last chunks drifting is drift too."""
    assert "each of the last 2 judged chunks drifts" in RULE.describe()
    assert "not compared" in RULE.describe()


def test_thresholds_come_from_settings_and_are_stated() -> None:
    """It reads every threshold from the settings and states the rule with their values."""
    settings = load_settings(drift_alpha=0.01, drift_wasserstein_floor=0.2, drift_share=0.5)
    rule = Thresholds.from_settings(settings)
    assert (rule.alpha, rule.wasserstein_floor, rule.drift_share) == (0.01, 0.2, 0.5)
    text = rule.describe()
    assert "p < 0.01" in text and "≥ 0.2" in text and "50%" in text


def test_a_ratio_scale_number_is_tested_on_its_mean_too() -> None:
    """It combines KS and the t-test of means into one distribution test (twice the smaller
    p-value, so the Holm family keeps one test per feature), and warns on a relative mean
    change at half its floor."""
    ratio = numeric(wasserstein_norm=0.01, mean_change=0.03)
    assert ratio.p_value == pytest.approx(2e-12)
    assert numeric().p_value == 1e-9  # KS alone for other numbers
    assert feature_verdict(ratio, 1e-10, None, None, RULE).status == "warning"
    assert feature_verdict(numeric(mean_change=0.02), 1e-10, None, None, RULE).status == "ok"
