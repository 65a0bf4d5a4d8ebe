"""The per-feature statistics agree with scipy's reference implementations and stay finite."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from churnops.monitoring.stats_tests import (
    bin_counts,
    chi_square,
    compare_categorical,
    compare_missing,
    compare_numeric,
    holm,
    ks_p_value,
    ks_wasserstein,
    numeric_reference,
    psi,
    ratio_scale,
)


@pytest.mark.parametrize("discrete", [False, True])
def test_ks_and_wasserstein_match_scipy(discrete: bool) -> None:
    """It computes the KS statistic, its asymptotic p-value and Wasserstein-1 as scipy does,
    ties included."""
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 3_000)
    b = rng.normal(0.1, 1.2, 1_700)
    if discrete:
        a, b = np.round(a * 3), np.round(b * 3)
    a.sort()
    b.sort()
    ks, wasserstein = ks_wasserstein(a, b)
    expected = stats.ks_2samp(a, b, method="asymp")
    assert ks == pytest.approx(expected.statistic, abs=1e-12)
    assert ks_p_value(ks, a.size, b.size) == pytest.approx(expected.pvalue, rel=1e-9)
    assert wasserstein == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)


def test_psi_bins_are_reference_quantiles_with_open_outer_bins() -> None:
    """It cuts PSI bins at the reference deciles; values beyond the reference land in the
    outer bins, so nothing is dropped."""
    ref = numeric_reference(np.arange(1_000, dtype=float), bins=10, fallback_spread=1.0)
    assert ref.edges.size == 9
    assert ref.bin_counts.tolist() == [100] * 10
    current = np.sort(np.array([-1e9, 5.0, 500.0, 1e9]))
    counts = bin_counts(current, ref.edges)
    assert counts.sum() == 4
    assert counts[0] == 2 and counts[-1] == 1


def test_psi_is_zero_for_identical_counts_and_finite_for_empty_bins() -> None:
    """It gives PSI 0 for identical distributions and a large but finite PSI when a bin is
    empty on one side (half a pseudo-count per bin)."""
    same = np.array([10, 20, 30])
    assert psi(same, same * 7) == pytest.approx(0.0, abs=1e-4)
    empty = psi(np.array([1_000, 0]), np.array([950, 50]))
    assert np.isfinite(empty) and empty > 0.2


def test_constant_reference_uses_the_schema_range_instead_of_dividing_by_zero() -> None:
    """It normalises the Wasserstein distance by the schema range when the reference is
    constant, and still compares."""
    ref = numeric_reference(np.full(500, 3.0), bins=10, fallback_spread=72.0)
    assert ref.spread == 72.0 and ref.spread_source == "schema range"
    result = compare_numeric(ref, np.sort(np.full(400, 3.0)))
    assert result is not None
    assert result.stats.ks_statistic == 0 and result.stats.wasserstein_norm == 0
    assert result.psi == 0
    moved = compare_numeric(ref, np.full(400, 10.0))
    assert moved is not None and moved.stats.wasserstein_norm == pytest.approx(7 / 72)


def test_an_empty_side_gives_no_result_instead_of_an_error() -> None:
    """It returns None (no test) when all current or all reference values are missing."""
    ref = numeric_reference(np.arange(10.0), bins=10, fallback_spread=1.0)
    assert compare_numeric(ref, np.empty(0)) is None
    assert compare_numeric(numeric_reference(np.empty(0), 10, 1.0), np.arange(3.0)) is None
    assert compare_categorical(np.zeros(3), np.array([1, 2, 3]), np.zeros(3, bool)) is None
    assert compare_missing(0, 0, 3, 10) is None


def test_chi_square_and_jensen_shannon_match_scipy() -> None:
    """It computes chi-square of homogeneity and the base-2 Jensen–Shannon distance as scipy
    does, and counts the unseen share."""
    ref = np.array([500, 300, 200, 0])
    cur = np.array([40, 40, 15, 5])
    unseen = np.array([False, False, False, True])
    compared = compare_categorical(ref, cur, unseen)
    assert compared is not None
    result = compared.stats
    expected = stats.chi2_contingency(np.vstack((ref, cur)), correction=False)
    assert result.chi2_statistic == pytest.approx(expected.statistic)
    assert result.chi2_p_value == pytest.approx(expected.pvalue)
    assert result.chi2_dof == 3
    assert result.js_distance == pytest.approx(jensenshannon(ref / 1000, cur / 100, base=2))
    assert result.unseen_share == pytest.approx(0.05)


def test_chi_square_of_a_single_category_is_not_significant() -> None:
    """It returns p = 1 when both sides hold one and the same category (nothing to test)."""
    assert chi_square(np.array([10, 0]), np.array([5, 0])) == (0.0, 0, 1.0)


def test_missing_rate_test() -> None:
    """It tests a missing-rate change with a two-proportion z-test (p = 1 if nothing is missing)."""
    assert compare_missing(0, 1_000, 0, 500).p_value == 1.0  # type: ignore[union-attr]
    result = compare_missing(0, 8_000, 100, 1_000)
    assert result is not None and result.p_value is not None
    assert result.stats.missing_rate_change == pytest.approx(0.1) and result.p_value < 1e-50


def test_holm_adjustment() -> None:
    """It applies Holm's step-down correction: monotone in the raw p-values, capped at 1."""
    adjusted = holm(np.array([0.01, 0.04, 0.03, 0.5]))
    assert adjusted.tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm(np.array([0.6, 0.9])).tolist() == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.random.default_rng(0).gamma(1.0, 2_000.0, 5_000), True),  # billed totals
        (np.random.default_rng(1).poisson(1.5, 5_000).astype(float), True),  # a count
        (np.random.default_rng(2).normal(70.0, 25.0, 5_000).clip(18), False),  # std < mean / 2
        (np.random.default_rng(3).normal(0.0, 1.0, 5_000), False),  # negative values
        (np.zeros(100), False),  # mean 0
        (np.array([5.0]), False),
    ],
)
def test_ratio_scale_is_inferred_from_the_reference(values: np.ndarray, expected: bool) -> None:
    """It takes a feature for money or a count when no value is negative and its std is at
    least half its mean."""
    assert ratio_scale(values) is expected


def test_the_relative_mean_change_is_reported_on_ratio_scale_only() -> None:
    """It reports the relative change of the mean for a ratio-scale feature (+10 % after a
    10 % rise) and nothing for others."""
    values = np.random.default_rng(0).gamma(1.0, 2_000.0, 5_000)
    current = np.sort(values * 1.1)
    ratio = compare_numeric(numeric_reference(values, 10, 1.0, ratio=True), current)
    other = compare_numeric(numeric_reference(values, 10, 1.0), current)
    assert ratio is not None and ratio.stats.mean_change == pytest.approx(0.1)
    assert other is not None and other.stats.mean_change is None
