"""ROC AUC with DeLong's variance and confidence interval, and the difference of two AUCs.

Variance — DeLong, DeLong & Clarke-Pearson (1988), "Comparing the areas under two or more
correlated receiver operating characteristic curves: a nonparametric approach", Biometrics
44(3):837–845. The AUC is the Mann–Whitney statistic. Each churned customer's placement value
V10 is the share of stayers it outranks, each stayer's V01 the share of churners that outrank
it (ties count half); AUC = mean(V10) = mean(V01), and

    var(AUC) = S10 / m + S01 / n

with S10, S01 the sample variances of the placement values over the m churners and n stayers.
For several scorers on the same customers the same formula with covariance matrices gives
their covariance, which the paired test needs.

Algorithm — Sun & Xu (2014), "Fast implementation of DeLong's algorithm for comparing the areas
under correlated receiver operating characteristic curves", IEEE Signal Processing Letters
21(11):1389–1393: placement values from midranks, V10_i = (rank of x_i among all − rank among
churners) / n and V01_j = 1 − (rank of y_j among all − rank among stayers) / m, so the cost is
O(N log N) instead of counting the m·n pairs.

Interval — Wald on the logit scale (Pepe 2003, "The Statistical Evaluation of Medical Tests for
Classification and Prediction", §5.2; Qin & Hotilovac 2008, Stat Methods Med Res 17:207–221):

    expit(logit(AUC) ± z · SE / (AUC · (1 − AUC)))

chosen over the plain AUC ± z · SE because the AUC's sampling distribution is skewed towards
0.5 as the AUC approaches 1: the plain interval is symmetric, can pass 1 and covers less there,
while the logit interval stays inside (0, 1); near 0.5 the two coincide.
``benchmarks/bench_statistics.py`` measures both by true AUC (0.55–0.97) and sample size.

Differences — b − a (challenger − champion) with the normal approximation

    z = (AUC_b − AUC_a) / SE,   p = 2 Φ(−|z|),   CI = difference ± z_{1−α/2} · SE,

SE² = var_a + var_b − 2 cov_ab for two scorers on the same customers (paired, DeLong 1988:
shadow mode) and var_a + var_b for two independent samples (unpaired: A/B arms). These p-values
and intervals hold for one look at a fixed sample; a verdict read every day must come from
``churnops.statistics.sequential``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, logit, ndtr, ndtri

from churnops.errors import BadInputError
from churnops.statistics.defaults import DEFAULT_LEVEL, DEFAULT_MIN_PER_CLASS
from churnops.statistics.outcomes import (
    NotEnoughOutcomes,
    insufficient,
    outcome_labels,
    score_values,
)

AUC_METHOD = "DeLong variance (Sun & Xu 2014 midrank algorithm), logit-scale Wald interval"
PAIRED_METHOD = "DeLong test for two correlated ROC curves on the same customers"
UNPAIRED_METHOD = "difference of two independent DeLong estimates, SE = sqrt(var_a + var_b)"


@dataclass(frozen=True)
class AucEstimate:
    """A realised ROC AUC with its DeLong variance and ``level`` confidence interval."""

    auc: float
    variance: float
    std_error: float
    lower: float
    upper: float
    level: float
    positives: int  # churned customers in the sample
    negatives: int  # customers who stayed
    method: str = AUC_METHOD
    status: Literal["estimated"] = "estimated"


@dataclass(frozen=True)
class AucDifference:
    """AUC of ``b`` minus AUC of ``a`` (challenger − champion), with a fixed-sample test."""

    a: AucEstimate
    b: AucEstimate
    paired: bool  # True: the same customers scored by both (shadow); False: independent arms
    difference: float
    variance: float
    std_error: float
    lower: float
    upper: float
    level: float
    p_value: float  # two-sided, for a single look at a fixed sample
    method: str
    status: Literal["estimated"] = "estimated"


def _sorted_midranks(ordered: np.ndarray) -> np.ndarray:
    """1-based ranks of sorted values, tied values sharing the mean of their positions."""
    size = ordered.size
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = np.append(starts[1:], size)
    return np.repeat((starts + 1 + ends) / 2.0, ends - starts)


def _placements(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Placement values of one scorer: V10 for each churner, V01 for each stayer, in input
    order. Sun & Xu's midranks (overall, among churners, among stayers) all come from one sort:
    each class's values are already in order within the overall sorted sequence."""
    order = np.argsort(scores)
    ordered, churned = scores[order], positive[order]
    m, n = int(churned.sum()), churned.size - int(churned.sum())
    overall = _sorted_midranks(ordered)
    placement = np.empty(scores.size)
    placement[order[churned]] = (overall[churned] - _sorted_midranks(ordered[churned])) / n
    placement[order[~churned]] = 1 - (overall[~churned] - _sorted_midranks(ordered[~churned])) / m
    return placement[positive], placement[~positive]


def _covariance(rows: np.ndarray) -> np.ndarray:
    centred = rows - rows.mean(axis=1, keepdims=True)
    covariance: np.ndarray = centred @ centred.T / (rows.shape[1] - 1)
    return covariance


def delong(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs (K,) and their DeLong covariance matrix (K, K) for K scorers (the rows of
    ``scores``) of the same customers; ``positive`` marks the churners (≥ 2 of each class)."""
    pairs = [_placements(positive, row) for row in scores]
    v10 = np.vstack([churners for churners, _ in pairs])
    v01 = np.vstack([stayers for _, stayers in pairs])
    covariance = _covariance(v10) / v10.shape[1] + _covariance(v01) / v01.shape[1]
    return v10.mean(axis=1), covariance


def auc_interval(
    y: ArrayLike,
    scores: ArrayLike,
    level: float = DEFAULT_LEVEL,
    min_per_class: int = DEFAULT_MIN_PER_CLASS,
) -> AucEstimate | NotEnoughOutcomes:
    """ROC AUC of ``scores`` against outcomes ``y`` (1 = churned), its DeLong variance and a
    logit-scale ``level`` interval; ``NotEnoughOutcomes`` below ``min_per_class`` of a class."""
    positive = outcome_labels(y)
    values = score_values(scores, positive.size)
    positives, negatives = int(positive.sum()), int(positive.size - positive.sum())
    lacking = insufficient(positives, negatives, min_per_class)
    if lacking is not None:
        return lacking
    aucs, covariance = delong(positive, values[None, :])
    return _estimate(float(aucs[0]), float(covariance[0, 0]), level, positives, negatives)


def paired_auc_difference(
    y: ArrayLike,
    scores_a: ArrayLike,
    scores_b: ArrayLike,
    level: float = DEFAULT_LEVEL,
    min_per_class: int = DEFAULT_MIN_PER_CLASS,
) -> AucDifference | NotEnoughOutcomes:
    """DeLong's test of AUC(b) − AUC(a) for two scorers of the same customers (shadow mode:
    a = champion, b = challenger); the shared customers cancel much of the noise."""
    positive = outcome_labels(y)
    stacked = np.vstack(
        (
            score_values(scores_a, positive.size, "scores_a"),
            score_values(scores_b, positive.size, "scores_b"),
        )
    )
    positives, negatives = int(positive.sum()), int(positive.size - positive.sum())
    lacking = insufficient(positives, negatives, min_per_class)
    if lacking is not None:
        return lacking
    aucs, cov = delong(positive, stacked)
    a = _estimate(float(aucs[0]), float(cov[0, 0]), level, positives, negatives)
    b = _estimate(float(aucs[1]), float(cov[1, 1]), level, positives, negatives)
    variance = max(float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), 0.0)
    return _difference(a, b, variance, level, paired=True)


def unpaired_auc_difference(
    a: AucEstimate | NotEnoughOutcomes,
    b: AucEstimate | NotEnoughOutcomes,
    level: float = DEFAULT_LEVEL,
) -> AucDifference | NotEnoughOutcomes:
    """AUC(b) − AUC(a) for two independent samples (A/B arms: a = champion, b = challenger):
    SE = sqrt(var_a + var_b). An arm without enough outcomes is passed through."""
    if isinstance(a, NotEnoughOutcomes):
        return a
    if isinstance(b, NotEnoughOutcomes):
        return b
    return _difference(a, b, a.variance + b.variance, level, paired=False)


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise BadInputError(f"the confidence level must be between 0 and 1, got {level}")
    return float(ndtri(0.5 + level / 2))


def _estimate(
    auc: float, variance: float, level: float, positives: int, negatives: int
) -> AucEstimate:
    z = _z(level)
    std_error = math.sqrt(max(variance, 0.0))
    lower = upper = auc  # a perfect (or perfectly inverted) ranking has no spread
    if 0 < auc < 1:
        half = z * std_error / (auc * (1 - auc))
        lower, upper = float(expit(logit(auc) - half)), float(expit(logit(auc) + half))
    return AucEstimate(auc, variance, std_error, lower, upper, level, positives, negatives)


def _difference(
    a: AucEstimate, b: AucEstimate, variance: float, level: float, paired: bool
) -> AucDifference:
    difference = b.auc - a.auc
    std_error = math.sqrt(variance)
    half = _z(level) * std_error
    if std_error > 0:
        p_value = float(2 * ndtr(-abs(difference) / std_error))
    else:
        p_value = 1.0 if difference == 0 else 0.0
    method = PAIRED_METHOD if paired else UNPAIRED_METHOD
    return AucDifference(
        a, b, paired, difference, variance, std_error,
        difference - half, difference + half, level, p_value, method,
    )  # fmt: skip
