"""Per-feature two-sample statistics: significance tests and effect sizes, vectorised with numpy.

Numeric features: PSI on reference-quantile bins, two-sample Kolmogorov–Smirnov, and the
Wasserstein-1 distance divided by the reference spread; for ratio-scale features (money,
counts: see ``ratio_scale``) also the relative change of the mean, and Welch's t-test of the
means beside KS (it has more power against a change of scale). Each feature brings one
distribution test to the Holm family: for a ratio-scale number, KS and the t-test combined
(Bonferroni: twice the smaller p-value), so testing means costs the other features nothing.
Categorical features: PSI over categories, chi-square on the 2×K contingency table,
Jensen–Shannon distance (base 2, so in [0, 1]) and the share of values never seen in
training. Every feature: the change in its missing-value rate with a two-proportion z-test.

PSI smoothing: each bin gets half a pseudo-count (``PSI_PSEUDO_COUNT``) on both sides before
proportions are taken, so a bin empty on one side (e.g. a category never seen in training)
gives a large but finite PSI, and the smoothing fades as samples grow. Bins empty on both sides
are left out.

Inputs are plain arrays; callers remove missing values first (and count them separately), so
no test ever sees a NaN, and an empty side gives ``None`` results instead of a division by zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2, kstwo, norm, ttest_ind_from_stats

from churnops.monitoring.statistics import (
    CategoricalResult,
    CategoricalStats,
    MissingResult,
    MissingStats,
    NumericResult,
    NumericStats,
)

PSI_PSEUDO_COUNT = 0.5
RATIO_SCALE_MIN_CV = 0.5  # std at least half the mean: see ratio_scale


@dataclass(frozen=True)
class NumericReference:
    """What a numeric feature's reference contributes to every comparison, computed once."""

    sorted_values: np.ndarray
    spread: float
    spread_source: str  # "reference std" or "schema range" (when the reference is constant)
    edges: np.ndarray  # interior PSI edges; the outer bins are open-ended
    bin_counts: np.ndarray
    ratio_scale: bool = False  # also report the relative change of the mean


def ratio_scale(values: np.ndarray) -> bool:
    """Whether present reference values look like money or a count: none negative, and a
    standard deviation of at least half the mean (zero-based and spread out or heavy-tailed).

    Such a feature hides a multiplicative change from the std-normalised Wasserstein
    distance: scaling every value by c moves it by |c − 1| × mean / std, so a 10 % price rise
    on a billed total with std ≈ mean moves it by about 0.09 only. Its mean, though, moves by
    exactly 10 %."""
    if values.size < 2 or float(values.min()) < 0:
        return False
    mean = float(values.mean())
    return mean > 0 and float(values.std(ddof=1)) >= RATIO_SCALE_MIN_CV * mean


def numeric_reference(
    values: np.ndarray, bins: int, fallback_spread: float, ratio: bool = False
) -> NumericReference:
    """Sort the present reference values once; PSI edges are its quantiles (ties merged).
    ``ratio``: the feature is on a ratio scale (see ``ratio_scale``)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    if ordered.size == 0:
        empty = np.empty(0)
        return NumericReference(ordered, fallback_spread, "schema range", empty, np.zeros(1))
    std = float(ordered.std(ddof=1)) if ordered.size > 1 else 0.0
    spread, source = (std, "reference std") if std > 0 else (fallback_spread, "schema range")
    edges = np.unique(np.quantile(ordered, np.linspace(0, 1, bins + 1)[1:-1]))
    counts = bin_counts(ordered, edges)
    return NumericReference(ordered, spread, source, edges, counts, ratio)


def bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in (-inf, e0), [e0, e1), …, [ek, inf) of an already sorted array."""
    below = np.searchsorted(sorted_values, edges, side="left")
    return np.diff(np.concatenate(([0], below, [sorted_values.size])))


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Population stability index between two count vectors over the same bins (smoothed;
    bins empty on both sides are left out)."""
    used = (reference_counts + current_counts) > 0
    ref = reference_counts[used] + PSI_PSEUDO_COUNT
    cur = current_counts[used] + PSI_PSEUDO_COUNT
    p, q = ref / ref.sum(), cur / cur.sum()
    return float(np.sum((q - p) * np.log(q / p)))


def ks_wasserstein(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """KS statistic and Wasserstein-1 distance of two sorted samples, from one linear merge.

    A stable sort of two sorted runs is a merge; both empirical CDFs are then read at the last
    position of each distinct value, so ties are handled exactly.
    """
    merged = np.concatenate((a, b))
    order = np.argsort(merged, kind="stable")
    values = merged[order]
    ends = np.append(np.flatnonzero(values[1:] != values[:-1]), values.size - 1)
    count_a = np.cumsum(order < a.size)[ends]
    gap = np.abs(count_a / a.size - (ends + 1 - count_a) / b.size)
    return float(gap.max()), float(np.sum(gap[:-1] * np.diff(values[ends])))


def ks_p_value(statistic: float, n: int, m: int) -> float:
    """Asymptotic two-sided p-value, as ``scipy.stats.ks_2samp(method="asymp")`` computes it."""
    effective = round(n * m / (n + m))
    return float(np.clip(kstwo.sf(statistic, max(effective, 1)), 0.0, 1.0))


def compare_numeric(ref: NumericReference, current_sorted: np.ndarray) -> NumericResult | None:
    """All numeric statistics, or None when either side has no present value."""
    n, m = ref.sorted_values.size, current_sorted.size
    if n == 0 or m == 0:
        return None
    ks, wasserstein = ks_wasserstein(ref.sorted_values, current_sorted)
    reference_mean, current_mean = float(ref.sorted_values.mean()), float(current_sorted.mean())
    mean_change = mean_p = None
    if ref.ratio_scale:
        mean_change = current_mean / reference_mean - 1
        mean_p = welch_p_value(ref.sorted_values, current_sorted)
    stats = NumericStats(
        reference_count=n,
        ks_statistic=ks,
        ks_p_value=ks_p_value(ks, n, m),
        ks_p_value_adjusted=None,
        wasserstein=wasserstein,
        wasserstein_norm=wasserstein / ref.spread,
        reference_mean=reference_mean,
        current_mean=current_mean,
        mean_change=mean_change,
        mean_p_value=mean_p,
    )
    return NumericResult(psi(ref.bin_counts, bin_counts(current_sorted, ref.edges)), m, stats)


def welch_p_value(a: np.ndarray, b: np.ndarray) -> float | None:
    """Two-sided p-value of Welch's t-test of equal means (None with fewer than two values on
    a side, or no variance on either)."""
    if a.size < 2 or b.size < 2:
        return None
    std_a, std_b = float(a.std(ddof=1)), float(b.std(ddof=1))
    if std_a == 0 and std_b == 0:
        return None
    result = ttest_ind_from_stats(
        float(a.mean()), std_a, a.size, float(b.mean()), std_b, b.size, equal_var=False
    )
    return float(result.pvalue)


def chi_square(
    reference_counts: np.ndarray, current_counts: np.ndarray
) -> tuple[float, int, float]:
    """Pearson chi-square of homogeneity on the 2×K table (all-empty categories dropped)."""
    table = np.vstack((reference_counts, current_counts)).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    dof = table.shape[1] - 1
    if dof < 1:
        return 0.0, 0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, dof, float(chi2.sf(statistic, dof))


def compare_categorical(
    reference_counts: np.ndarray, current_counts: np.ndarray, unseen: np.ndarray
) -> CategoricalResult | None:
    """Counts per category on both sides; ``unseen`` marks categories never seen in training."""
    n, m = int(reference_counts.sum()), int(current_counts.sum())
    if n == 0 or m == 0:
        return None
    statistic, dof, p_value = chi_square(reference_counts, current_counts)
    stats = CategoricalStats(
        reference_count=n,
        chi2_statistic=statistic,
        chi2_dof=dof,
        chi2_p_value=p_value,
        chi2_p_value_adjusted=None,
        js_distance=float(jensenshannon(reference_counts / n, current_counts / m, base=2)),
        unseen_share=float(current_counts[unseen].sum() / m),
    )
    return CategoricalResult(psi(reference_counts, current_counts), m, stats)


def compare_missing(
    reference_missing: int, reference_rows: int, current_missing: int, current_rows: int
) -> MissingResult | None:
    """Missing-rate change with a pooled two-proportion z-test (p = 1 when nothing varies)."""
    if reference_rows == 0 or current_rows == 0:
        return None
    p1, p2 = reference_missing / reference_rows, current_missing / current_rows
    pooled = (reference_missing + current_missing) / (reference_rows + current_rows)
    p_value = 1.0
    if 0 < pooled < 1:
        se = np.sqrt(pooled * (1 - pooled) * (1 / reference_rows + 1 / current_rows))
        p_value = float(2 * norm.sf(abs(p2 - p1) / se))
    stats = MissingStats(
        missing_rate_reference=p1,
        missing_rate_change=p2 - p1,
        missing_p_value=p_value,
        missing_p_value_adjusted=None,
    )
    return MissingResult(p2, stats)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control, never above 1)."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p)
    scaled = (p.size - np.arange(p.size)) * p[order]
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted
