"""The decision rule: a feature drifts only when a change is both significant and large enough.

Significance alone fails at scale (with a million rows every p-value is tiny) and effect size
alone fails on small samples (a hundred rows give noisy PSI), so each needs the other:

- the p-values of every test in one comparison (each feature's distribution test and its
  missing-rate test, plus the prediction's) are Holm-adjusted together; a test is significant
  when its adjusted p-value is below ``alpha``;
- ``drift`` = a significant distribution change whose effect reaches a floor (PSI, normalised
  Wasserstein for numbers, and the relative change of the mean for ratio-scale numbers such
  as money and counts, whose multiplicative changes the normalised Wasserstein understates —
  their distribution test adds Welch's t-test of the means to KS; Jensen–Shannon or
  unseen-category share for categories), or a significant missing-rate change of at least
  its floor;
- ``warning`` = significant with PSI at the warning level or another effect at
  ``warning_fraction`` of its floor, or any value never seen in training (the model cannot
  have learned it);
- ``not compared`` = no test could run (no present value on one side, or the feature is absent
  from one side): never counted as ``ok``, and left out of the drift score;
- a comparison drifts when at least one feature and at least ``drift_share`` of the compared
  features drift, or the prediction drifts; the drift score is the share of drifting features;
- overall drift (per model version) = the whole window drifts, OR each of the last
  ``recent_chunks`` (2) judged chunks drifts. The second arm catches a drift that began
  recently: diluted by a long calm history, it may stay below the floors over the whole
  window, but the latest chunks show it. A feature that drifts in each of those chunks is
  reported as drifting. Requiring consecutive chunks keeps chance alarms rare: each chunk is
  itself a Holm-corrected, effect-floored comparison (on calm data about 2% of 500-row chunks
  drift by chance), so two chance alarms in a row at the very end of the window are rarer
  still (measured on 100 calm seeds × 5,000 rows in ten chunks: no run and no feature
  flagged; none at 1,000,000 rows; see the statistical tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from churnops.monitoring.statistics import CategoricalResult, MissingResult, NumericResult
from churnops.settings import Settings

Status = Literal["ok", "warning", "drift"]
NOT_COMPARED: Final = "not compared"
Judgement = Literal[Status, "not compared"]  # a feature's status in a report
SEVERITY: dict[str, int] = {NOT_COMPARED: -1, "ok": 0, "warning": 1, "drift": 2}


class Thresholds(BaseModel):
    """The decision rule's thresholds; their defaults live in ``Settings`` (drift_*)."""

    model_config = ConfigDict(frozen=True)

    alpha: float
    psi_floor: float
    psi_warning: float
    wasserstein_floor: float
    mean_change_floor: float
    js_floor: float
    unseen_share: float
    missing_rate_change: float
    warning_fraction: float
    drift_share: float
    min_rows: int
    recent_chunks: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(
            alpha=settings.drift_alpha,
            psi_floor=settings.drift_psi_floor,
            psi_warning=settings.drift_psi_warning,
            wasserstein_floor=settings.drift_wasserstein_floor,
            mean_change_floor=settings.drift_mean_change_floor,
            js_floor=settings.drift_js_floor,
            unseen_share=settings.drift_unseen_share,
            missing_rate_change=settings.drift_missing_rate_change,
            warning_fraction=settings.drift_warning_fraction,
            drift_share=settings.drift_share,
            min_rows=settings.drift_min_rows,
            recent_chunks=settings.drift_recent_chunks,
        )

    def describe(self) -> str:
        return (
            f"A feature drifts when a test is significant after Holm correction over all tests "
            f"of the comparison (adjusted p < {self.alpha:g}) AND its effect reaches a floor: "
            f"PSI ≥ {self.psi_floor:g}, Wasserstein / reference std ≥ {self.wasserstein_floor:g} "
            f"(numbers), relative change of the mean ≥ {self.mean_change_floor:g} (ratio-scale "
            f"numbers: never negative, std ≥ half the mean, e.g. money and counts), "
            f"Jensen–Shannon distance ≥ {self.js_floor:g} or unseen-category share ≥ "
            f"{self.unseen_share:g} (categories), or a missing-rate change ≥ "
            f"{self.missing_rate_change:g}. Warning: significant with PSI ≥ {self.psi_warning:g} "
            f"or another effect ≥ {self.warning_fraction:g} × its floor, or any category never "
            f"seen in training. A feature no test could judge is 'not compared' (never ok). Drift: "
            f"≥ 1 and ≥ {self.drift_share:.0%} of the compared features drift, or the "
            f"prediction drifts; drift score = share of drifting features. Overall drift: the "
            f"whole window drifts OR each of the last {self.recent_chunks} judged chunks drifts "
            f"(a recent drift; features drifting in each of them are reported as drifting)."
        )


@dataclass(frozen=True)
class Verdict:
    status: Status
    reasons: list[str]
    effect_ratio: float  # largest effect / its drift floor (≥ 1 means above a floor)
    significant_ratio: float = 0.0  # the same, over the effects of significant tests only

    @property
    def drifted(self) -> bool:
        return self.status == "drift"


Effect = tuple[str, float, float, float]  # name, value, drift floor, warning level


def _effect(name: str, value: float | None, floor: float, warning: float) -> list[Effect]:
    return [] if value is None else [(name, value, floor, warning)]


def _distribution_effects(
    dist: NumericResult | CategoricalResult | None, t: Thresholds
) -> list[Effect]:
    """The effect sizes judged by the distribution test (KS or chi-square)."""
    if dist is None:
        return []
    fraction = t.warning_fraction
    effects = _effect("PSI", dist.psi, t.psi_floor, t.psi_warning)
    if isinstance(dist, NumericResult):
        stats, floor, mean_floor = dist.stats, t.wasserstein_floor, t.mean_change_floor
        change = None if stats.mean_change is None else abs(stats.mean_change)
        return (
            effects
            + _effect("Wasserstein/std", stats.wasserstein_norm, floor, floor * fraction)
            + _effect("relative mean change", change, mean_floor, mean_floor * fraction)
        )
    js, unseen = dist.stats.js_distance, dist.stats.unseen_share
    return (
        effects
        + _effect("JS distance", js, t.js_floor, t.js_floor * fraction)
        + _effect("unseen share", unseen, t.unseen_share, t.unseen_share * fraction)
    )


def _missing_effects(missing: MissingResult | None, t: Thresholds) -> list[Effect]:
    change = missing.stats.missing_rate_change if missing is not None else None
    floor = t.missing_rate_change
    value = None if change is None else abs(change)
    return _effect("missing-rate change", value, floor, floor * t.warning_fraction)


def feature_verdict(
    dist: NumericResult | CategoricalResult | None,
    dist_p_adjusted: float | None,
    missing: MissingResult | None,
    missing_p_adjusted: float | None,
    t: Thresholds,
) -> Verdict:
    """Apply the rule to one feature's results and its Holm-adjusted p-values: each effect
    counts only when the test that judges it is significant."""
    tests = (
        ("distribution", dist_p_adjusted, _distribution_effects(dist, t)),
        ("missing rate", missing_p_adjusted, _missing_effects(missing, t)),
    )
    drift: list[str] = []
    warn: list[str] = []
    significant: list[float] = []
    for test, p_adjusted, effects_of in tests:
        if p_adjusted is None or p_adjusted >= t.alpha:
            continue
        significant += [value / floor for _, value, floor, _ in effects_of]
        for name, value, floor, warning in effects_of:
            text = f"{test} p_adj={p_adjusted:.2g}, {name} {value:.3g}"
            if value >= floor:
                drift.append(f"{text} ≥ {floor:g}")
            elif value >= warning:
                warn.append(f"{text} ≥ warning {warning:g}")
    unseen = dist.stats.unseen_share if isinstance(dist, CategoricalResult) else None
    if unseen:
        warn.append(f"{unseen:.2%} of values never seen in training")
    ratio = _largest([value / floor for *_, effects in tests for _, value, floor, _ in effects])
    significant_ratio = _largest(significant)
    if drift:
        return Verdict("drift", drift, ratio, significant_ratio)
    return Verdict("warning" if warn else "ok", warn, ratio, significant_ratio)


def _largest(ratios: list[float]) -> float:
    ratio = max(ratios, default=0.0)
    return ratio if math.isfinite(ratio) else 0.0


def overall(statuses: Sequence[str], prediction: str | None, t: Thresholds) -> tuple[bool, float]:
    """(drift detected, drift score = share of drifting features among the compared ones)."""
    compared = [status for status in statuses if status != NOT_COMPARED]
    drifting = sum(status == "drift" for status in compared)
    score = drifting / len(compared) if compared else 0.0
    detected = (drifting >= 1 and score >= t.drift_share) or prediction == "drift"
    return detected, score
