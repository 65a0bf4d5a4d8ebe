"""DeLong AUC, variance and covariance against independent computations, and input handling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from churnops.errors import BadInputError
from churnops.statistics import (
    AucEstimate,
    NotEnoughOutcomes,
    auc_interval,
    paired_auc_difference,
    unpaired_auc_difference,
)


def slow_delong(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong (1988) by counting every (churner, stayer) pair: O(m·n), ties count half."""
    churned, stayed = scores[:, y == 1], scores[:, y == 0]
    m, n = churned.shape[1], stayed.shape[1]
    psi = (churned[:, :, None] > stayed[:, None, :]) + 0.5 * (
        churned[:, :, None] == stayed[:, None, :]
    )
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    covariance = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return psi.mean(axis=(1, 2)), covariance


def random_case(seed: int, rows: int, ties: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcomes and two correlated scorers; rounded to one decimal when ``ties``."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.3).astype(int)
    y[:2], y[2:4] = 1, 0  # both classes present
    base = rng.normal(size=rows) + 1.2 * y
    a, b = base + rng.normal(0, 0.8, rows), base + rng.normal(0, 0.5, rows)
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    return y, a, b


def estimate(y: np.ndarray, scores: np.ndarray, level: float = 0.95) -> AucEstimate:
    result = auc_interval(y, scores, level, min_per_class=2)
    assert isinstance(result, AucEstimate)
    return result


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
def test_auc_and_variance_match_sklearn_and_the_pairwise_definition(seed: int, ties: bool) -> None:
    """The AUC equals scikit-learn's and the fast (midrank) variance equals DeLong's
    pair-counting one, on random data with and without ties."""
    y, a, _ = random_case(seed, 200 + 150 * seed, ties)
    found = estimate(y, a)
    slow_auc, slow_cov = slow_delong(y, a[None, :])
    assert found.auc == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert found.auc == pytest.approx(slow_auc[0], abs=1e-12)
    assert found.variance == pytest.approx(slow_cov[0, 0], rel=1e-9)
    assert found.std_error == pytest.approx(np.sqrt(slow_cov[0, 0]))
    assert (found.positives, found.negatives) == (int(y.sum()), int((1 - y).sum()))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ties", [False, True])
def test_paired_difference_matches_the_pairwise_covariance(seed: int, ties: bool) -> None:
    """The paired test uses var_a + var_b − 2·cov_ab from DeLong's covariance matrix."""
    y, a, b = random_case(100 + seed, 400, ties)
    found = paired_auc_difference(y, a, b, min_per_class=2)
    assert not isinstance(found, NotEnoughOutcomes)
    aucs, cov = slow_delong(y, np.vstack((a, b)))
    variance = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    assert found.paired
    assert found.difference == pytest.approx(aucs[1] - aucs[0], abs=1e-12)
    assert found.variance == pytest.approx(variance, rel=1e-9)
    z = found.difference / np.sqrt(variance)
    assert found.p_value == pytest.approx(2 * norm.sf(abs(z)), rel=1e-9)
    half = norm.ppf(0.975) * np.sqrt(variance)
    assert found.lower == pytest.approx(found.difference - half)
    assert found.upper == pytest.approx(found.difference + half)
    assert found.a.auc == pytest.approx(aucs[0]) and found.b.auc == pytest.approx(aucs[1])


def test_unpaired_difference_adds_the_two_variances() -> None:
    """Two independent samples: difference b − a, SE = sqrt(var_a + var_b)."""
    y1, a, _ = random_case(7, 600, ties=False)
    y2, _, b = random_case(8, 500, ties=True)
    first, second = estimate(y1, a), estimate(y2, b)
    found = unpaired_auc_difference(first, second)
    assert not isinstance(found, NotEnoughOutcomes)
    assert not found.paired
    assert found.difference == pytest.approx(second.auc - first.auc)
    assert found.std_error == pytest.approx(np.sqrt(first.variance + second.variance))
    assert found.lower < found.difference < found.upper


def test_interval_is_on_the_logit_scale_and_widens_with_the_level() -> None:
    """The interval is expit(logit(AUC) ± z·SE/(AUC(1−AUC))): asymmetric, inside (0, 1)."""
    y, a, _ = random_case(3, 300, ties=False)
    found = estimate(y, a)
    logit_half = norm.ppf(0.975) * found.std_error / (found.auc * (1 - found.auc))
    centre = np.log(found.auc / (1 - found.auc))
    assert found.lower == pytest.approx(1 / (1 + np.exp(-(centre - logit_half))))
    assert found.upper == pytest.approx(1 / (1 + np.exp(-(centre + logit_half))))
    assert 0 < found.lower < found.auc < found.upper < 1
    assert found.upper - found.auc < found.auc - found.lower  # skewed away from 1
    wider = estimate(y, a, level=0.99)
    assert wider.lower < found.lower and wider.upper > found.upper


def test_a_perfect_ranking_has_a_point_interval() -> None:
    """AUC 1 has no DeLong spread; the interval is [1, 1], not a NaN."""
    y = np.array([0] * 5 + [1] * 5)
    found = estimate(y, np.arange(10.0))
    assert (found.auc, found.variance, found.lower, found.upper) == (1.0, 0.0, 1.0, 1.0)


def test_identical_scorers_differ_by_nothing() -> None:
    """The same scores twice: difference 0, SE 0, p-value 1."""
    y, a, _ = random_case(4, 300, ties=True)
    found = paired_auc_difference(y, a, a.copy(), min_per_class=2)
    assert not isinstance(found, NotEnoughOutcomes)
    assert (found.difference, found.std_error, found.p_value) == (0.0, 0.0, 1.0)


def test_too_few_of_a_class_gives_a_status_not_a_number() -> None:
    """Below the minimum of either class the answer is 'not enough outcomes yet', with counts."""
    y = np.array([1] * 9 + [0] * 500)
    scores = np.linspace(0, 1, y.size)
    found = auc_interval(y, scores, min_per_class=10)
    assert found == NotEnoughOutcomes(positives=9, negatives=500, min_per_class=10)
    assert found.status == "not enough outcomes yet"
    assert "9 churned and 500 stayed; at least 10 of each" in found.reason
    assert isinstance(auc_interval(y, scores, min_per_class=9), AucEstimate)
    assert isinstance(paired_auc_difference(y, scores, scores, min_per_class=10), NotEnoughOutcomes)
    enough = estimate(np.r_[y, 1], np.r_[scores, 0.5])
    assert unpaired_auc_difference(found, enough) is found
    assert unpaired_auc_difference(enough, found) is found


@pytest.mark.parametrize(
    ("y", "scores", "kwargs", "message"),
    [
        ([0, 1, 2], [0.1, 0.2, 0.3], {}, "outcomes must be 0 (stayed) or 1 (churned), got 2"),
        (["yes", "no"], [0.1, 0.2], {}, "outcomes must be 0 (stayed) or 1 (churned), got 'yes'"),
        ([0, None, 1], [0.1, 0.2, 0.3], {}, "outcomes must be 0 (stayed) or 1 (churned), got None"),
        (
            [0, np.nan, 1],
            [0.1, 0.2, 0.3],
            {},
            "outcomes must be 0 (stayed) or 1 (churned), got nan",
        ),
        ([[0, 1]], [0.1, 0.2], {}, "one-dimensional"),
        ([0, 1, 0], [0.1, 0.2], {}, "one number per outcome (3)"),
        ([0, 1, 0], [0.1, np.nan, 0.3], {}, "missing or infinite"),
        ([0, 1, 0], ["a", "b", "c"], {}, "scores must be numbers"),
        ([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], {"level": 1.5}, "confidence level"),
        ([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], {"min_per_class": 1}, "at least 2"),
    ],
)
def test_bad_input_is_refused_with_one_clear_line(
    y: object, scores: object, kwargs: dict[str, float], message: str
) -> None:
    """Labels other than 0/1, misaligned or non-finite scores, a level outside (0, 1) or a
    minimum below 2 raise a BadInputError that says what is wrong."""
    options: dict[str, float] = {"min_per_class": 2, **kwargs}
    with pytest.raises(BadInputError) as raised:
        auc_interval(y, scores, **options)  # type: ignore[arg-type]
    assert message in str(raised.value)
