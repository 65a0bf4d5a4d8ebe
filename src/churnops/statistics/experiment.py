"""Champion against challenger on realised outcomes: both arms, their difference, the verdict.

A/B (``compare_ab``): each arm's customers are scored by their own variant, so the arms are
independent samples and the difference is unpaired. Shadow (``compare_shadow``): every customer
is scored by both, so the difference is paired (DeLong's correlated-ROC test) and much narrower
for the same customers. Either way the verdict is the always-valid rule of
``churnops.statistics.sequential``, and the arms and difference use its ``alpha`` and
``min_per_class`` so the numbers and the verdict always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from numpy.typing import ArrayLike

from churnops.statistics.delong import (
    AucDifference,
    AucEstimate,
    auc_interval,
    paired_auc_difference,
    unpaired_auc_difference,
)
from churnops.statistics.outcomes import NotEnoughOutcomes
from churnops.statistics.sequential import Verdict, VerdictRule, verdict


@dataclass(frozen=True)
class Comparison:
    """Realised AUC of each arm, the challenger − champion difference, and the verdict."""

    mode: Literal["ab", "shadow"]
    champion: AucEstimate | NotEnoughOutcomes
    challenger: AucEstimate | NotEnoughOutcomes
    difference: AucDifference | NotEnoughOutcomes
    verdict: Verdict


def compare_ab(
    y_champion: ArrayLike,
    scores_champion: ArrayLike,
    y_challenger: ArrayLike,
    scores_challenger: ArrayLike,
    rule: VerdictRule | None = None,
) -> Comparison:
    """Two independent arms, each with its own customers' outcomes and its variant's scores."""
    rule = rule or VerdictRule()
    level, minimum = 1 - rule.alpha, rule.min_per_class
    champion = auc_interval(y_champion, scores_champion, level, minimum)
    challenger = auc_interval(y_challenger, scores_challenger, level, minimum)
    difference = unpaired_auc_difference(champion, challenger, level)
    return Comparison("ab", champion, challenger, difference, verdict(difference, rule))


def compare_shadow(
    y: ArrayLike,
    scores_champion: ArrayLike,
    scores_challenger: ArrayLike,
    rule: VerdictRule | None = None,
) -> Comparison:
    """The same customers scored by both versions (the challenger's scores never served)."""
    rule = rule or VerdictRule()
    difference = paired_auc_difference(
        y, scores_champion, scores_challenger, 1 - rule.alpha, rule.min_per_class
    )
    if isinstance(difference, NotEnoughOutcomes):
        return Comparison("shadow", difference, difference, difference, verdict(difference, rule))
    return Comparison("shadow", difference.a, difference.b, difference, verdict(difference, rule))
