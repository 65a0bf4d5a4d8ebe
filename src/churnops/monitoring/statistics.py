"""What the per-feature tests report: the statistic models of a drift report and each test's
result. Plain data (pydantic and numpy-free), so reading a report — as the API does for its
drift gauges — needs no scipy; the computations are in ``stats_tests``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _finite_or_none(value: object) -> object:
    """JSON has no NaN or infinity: a statistic that is not a finite number is reported null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


Finite = Annotated[float | None, BeforeValidator(_finite_or_none)]


# The statistics a report shows, per test, in report order. A statistic added to one of these
# models (and computed below) appears in the JSON and HTML reports with no other change; its
# ``title`` is its label there. PSI and the current count are reported beside the verdict.


class Statistics(BaseModel):
    model_config = ConfigDict(frozen=True)

    @classmethod
    def untested(cls) -> Self:
        """Every statistic null: the test could not run (the keys are reported anyway)."""
        return cls.model_validate(dict.fromkeys(cls.model_fields))


class NumericStats(Statistics):
    reference_count: int | None = Field(title="reference n")
    ks_statistic: Finite = Field(title="KS D")
    ks_p_value: Finite = Field(title="KS p")
    # Holm-adjusted p of the distribution test (ratio scale: KS and t-test combined)
    ks_p_value_adjusted: Finite = Field(title="distribution p (Holm)")
    wasserstein: Finite = Field(title="Wasserstein")
    wasserstein_norm: Finite = Field(title="Wasserstein / reference std")
    reference_mean: Finite = Field(title="reference mean")
    current_mean: Finite = Field(title="current mean")
    # ratio scale only: the relative change of the mean, and Welch's t-test of the means
    mean_change: Finite = Field(default=None, title="relative mean change")
    mean_p_value: Finite = Field(default=None, title="t-test p")


class CategoricalStats(Statistics):
    reference_count: int | None = Field(title="reference n")
    chi2_statistic: Finite = Field(title="χ²")
    chi2_dof: int | None = Field(title="χ² degrees of freedom")
    chi2_p_value: Finite = Field(title="χ² p")
    chi2_p_value_adjusted: Finite = Field(title="χ² p (Holm)")
    js_distance: Finite = Field(title="Jensen–Shannon distance")
    unseen_share: Finite = Field(title="share never seen in training")


class MissingStats(Statistics):
    missing_rate_reference: Finite = Field(title="reference missing rate")
    missing_rate_change: Finite = Field(title="missing-rate change")
    missing_p_value: Finite = Field(title="missing-rate p")
    missing_p_value_adjusted: Finite = Field(title="missing-rate p (Holm)")


@dataclass(frozen=True)
class NumericResult:
    psi: float
    current_count: int
    stats: NumericStats

    @property
    def p_value(self) -> float | None:
        """The distribution test's p-value: KS, or for a ratio-scale number KS and the t-test
        of means combined (twice the smaller)."""
        ks, mean = self.stats.ks_p_value, self.stats.mean_p_value
        if ks is None or mean is None:
            return ks
        return min(1.0, 2 * min(ks, mean))


@dataclass(frozen=True)
class CategoricalResult:
    psi: float
    current_count: int
    stats: CategoricalStats

    @property
    def p_value(self) -> float | None:
        return self.stats.chi2_p_value


@dataclass(frozen=True)
class MissingResult:
    current_rate: float
    stats: MissingStats

    @property
    def p_value(self) -> float | None:
        return self.stats.missing_p_value
