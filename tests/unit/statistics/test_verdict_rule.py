"""The always-valid verdict rule on given estimates: labels, boundary, detectable difference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from churnops.errors import BadInputError
from churnops.statistics import (
    AucDifference,
    AucEstimate,
    NotEnoughOutcomes,
    VerdictRule,
    compare_ab,
    verdict,
)


def arm(positives: int = 1_000, negatives: int = 3_000) -> AucEstimate:
    return AucEstimate(0.8, 1e-4, 0.01, 0.78, 0.82, 0.95, positives, negatives)


def estimated(difference: float, std_error: float, a: AucEstimate | None = None) -> AucDifference:
    """An AUC difference with the given value and standard error (the rule reads only these
    and the arms' counts)."""
    return AucDifference(
        a or arm(), arm(), True, difference, std_error**2, std_error, 0.0, 0.0, 0.95, 0.5, "test"
    )


@pytest.mark.parametrize(
    ("difference", "label"),
    [
        (0.05, "challenger better"),
        (-0.05, "challenger worse"),
        (0.0, "no detectable difference"),
        (0.02, "no detectable difference"),  # 2 SE: a fixed test would call it, this rule not
    ],
)
def test_labels_follow_the_confidence_sequence(difference: float, label: str) -> None:
    """Better/worse when the whole confidence sequence is above/below 0, else no difference."""
    found = verdict(estimated(difference, 0.01))
    assert found.label == label
    assert found.lower is not None and found.upper is not None
    assert found.lower < difference < found.upper
    assert (found.lower > 0) == (label == "challenger better")
    assert (found.upper < 0) == (label == "challenger worse")


def test_the_sequence_is_wider_than_a_single_look_interval() -> None:
    """The price of reading at any time: ≈ 3.03 SE at its sharpest (variance τ²/8), never
    below the fixed 1.96 SE, and much wider while the estimate is still noisy."""
    rule = VerdictRule()
    best = rule.mixture_scale**2 / 8
    assert rule.half_width(best) / math.sqrt(best) == pytest.approx(3.03, abs=0.01)
    for std_error in (0.001, 0.003, 0.007, 0.02, 0.05):
        assert rule.half_width(std_error**2) > 1.96 * std_error
    assert rule.half_width(0.05**2) > 6 * 0.05


def test_p_value_reaches_alpha_exactly_at_the_boundary() -> None:
    """The always-valid p-value and the confidence sequence are the same test: p = α where the
    sequence touches 0, below α beyond it."""
    rule = VerdictRule(alpha=0.05)
    variance = 0.008**2
    r = rule.half_width(variance)
    assert rule.p_value(r, variance) == pytest.approx(0.05, rel=1e-9)
    assert rule.p_value(1.01 * r, variance) < 0.05 < rule.p_value(0.99 * r, variance)
    assert rule.p_value(0.0, variance) == 1.0


def test_the_smallest_detectable_difference_is_found_with_the_stated_power() -> None:
    """A true difference equal to the reported smallest detectable one is called 'better' in
    about 80 % of estimates drawn around it."""
    std_error = 0.008
    detectable = verdict(estimated(0.0, std_error)).detectable_difference
    assert detectable is not None
    draws = np.random.default_rng(5).normal(detectable, std_error, 4_000)
    better = np.mean([verdict(estimated(d, std_error)).label == "challenger better" for d in draws])
    assert better == pytest.approx(0.80, abs=0.02)
    assert detectable == pytest.approx(
        VerdictRule().half_width(std_error**2) + norm.ppf(0.8) * std_error
    )


def test_an_arm_below_the_minimum_is_not_enough_outcomes_yet() -> None:
    """Even a large difference is not judged while an arm has too few of a class; the reason
    names the arm, and no number is given."""
    found = verdict(estimated(0.2, 0.01, a=arm(positives=49)))
    assert found.label == "not enough outcomes yet"
    assert found.reason.startswith("champion: not enough outcomes yet: 49 churned")
    assert (found.difference, found.lower, found.always_valid_p_value) == (None, None, None)
    passed = verdict(NotEnoughOutcomes(3, 400, 50))
    assert passed.label == "not enough outcomes yet" and "3 churned" in passed.reason
    assert verdict(
        estimated(0.2, 0.01, a=arm(positives=49)), VerdictRule(min_per_class=40)
    ).label == ("challenger better")


def test_the_rule_is_written_out_with_its_parameters() -> None:
    """The report prints the rule with the values in force."""
    rule = VerdictRule(alpha=0.01, min_per_class=80, mixture_scale=0.03, power=0.9)
    text = verdict(estimated(0.0, 0.01), rule).rule_text
    assert text == rule.describe()
    for part in (
        "99% confidence sequence",
        "N(0, 0.03²)",
        "fewer than 80 churned",
        "90% power",
        "at most 0.01",
    ):
        assert part in text


def test_compare_ab_uses_the_rules_minimum_per_arm() -> None:
    """compare_ab gates each arm by the rule's minimum, not a default."""
    rng = np.random.default_rng(2)
    y = (rng.random(2_000) < 0.1).astype(int)  # ≈ 100 churners per arm
    scores = rng.random(2_000)
    assert compare_ab(y[:1000], scores[:1000], y[1000:], scores[1000:]).verdict.label != (
        "not enough outcomes yet"
    )
    strict = compare_ab(
        y[:1000], scores[:1000], y[1000:], scores[1000:], VerdictRule(min_per_class=200)
    )
    assert strict.verdict.label == "not enough outcomes yet"
    assert isinstance(strict.champion, NotEnoughOutcomes)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"alpha": 0.0}, "alpha must be between 0 and 1"),
        ({"alpha": 1.2}, "alpha must be between 0 and 1"),
        ({"power": 1.0}, "power must be between 0 and 1"),
        ({"mixture_scale": 0.0}, "mixture scale must be positive"),
        ({"min_per_class": 1}, "at least 2"),
    ],
)
def test_a_rule_with_impossible_parameters_is_refused(
    options: dict[str, float], message: str
) -> None:
    with pytest.raises(BadInputError, match=message):
        VerdictRule(**options)  # type: ignore[arg-type]
