"""The experiment report as typed results: each arm's realised metrics (the performance
report's ``Realised`` block), the challenger − champion difference with its interval and
p-value, and the verdict with its rule. Every output (terminal, JSON, history) reads these."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from churnops.performance.results import NotEnough, Realised, Result
from churnops.statistics.sequential import VerdictLabel

Variant = Literal["champion", "challenger"]


class ExperimentInfo(Result):
    id: str
    mode: Literal["ab", "shadow"]
    champion: int
    challenger: int
    share: float | None  # A/B: percent of customers the challenger answers
    started_at: str | None
    running: bool


class Arm(Result):
    variant: Variant
    model_version: int
    predictions: int
    labelled: int  # predictions with an outcome
    coverage: float
    realised: Realised


class Difference(Result):
    """AUC(challenger) − AUC(champion), for one look at a fixed sample."""

    status: Literal["estimated"] = "estimated"
    difference: float
    lower: float
    upper: float
    level: float
    std_error: float
    p_value: float
    paired: bool
    method: str


Compared = Annotated[Difference | NotEnough, Field(discriminator="status")]


class VerdictResult(Result):
    label: VerdictLabel
    reason: str
    rule_text: str
    difference: float | None = None
    lower: float | None = None  # the always-valid confidence sequence at this look
    upper: float | None = None
    always_valid_p_value: float | None = None
    detectable_difference: float | None = None

    def words(self) -> str:
        """The label and the reason, the label said once: a reason may already say it
        ("champion: not enough outcomes yet: 0 churned…")."""
        if self.label in self.reason:
            return self.reason
        return f"{self.label}: {self.reason}"


class ExperimentReport(Result):
    generated_at: str
    experiment: ExperimentInfo
    arms: list[Arm]
    difference: Compared  # paired in shadow mode, unpaired in A/B
    unpaired: Compared | None  # shadow only: the unpaired difference, to show what pairing buys
    verdict: VerdictResult
    join_rule: str
    notes: list[str]

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json")
