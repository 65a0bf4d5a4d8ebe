"""Realised performance as typed results: per model version, its periods over time, each with
its realised metrics (or "not enough outcomes yet"), beside the version's hold-out metrics.
Every output (terminal, JSON, HTML, Prometheus gauges) reads these; the experiment report
uses the same ``Realised`` block for each arm. (Only pydantic here: the API reads the latest
report without loading the statistics stack.)"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

# churnops.statistics' status, not imported (it loads scipy); a test keeps the two equal
NOT_ENOUGH: Final = "not enough outcomes yet"
LATEST = "performance_latest.json"  # the latest run's report, in reports/: the API's gauges


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class AucInterval(Result):
    auc: float
    lower: float
    upper: float
    level: float
    std_error: float
    method: str


class Measured(Result):
    """Realised metrics on the outcomes that have arrived."""

    status: Literal["estimated"] = "estimated"
    outcomes: int  # distinct outcomes measured (one prediction each)
    churned: int
    stayed: int
    auc: AucInterval
    threshold: float
    precision: float
    recall: float
    f1: float
    accuracy: float
    brier: float


class NotEnough(Result):
    """Too few outcomes of a class: no number is shown, on purpose."""

    status: Literal["not enough outcomes yet"] = NOT_ENOUGH
    churned: int
    stayed: int
    min_per_class: int
    reason: str


Realised = Annotated[Measured | NotEnough, Field(discriminator="status")]


class HoldOut(Result):
    """The version's metrics on its hold-out at training time."""

    roc_auc: float | None
    precision: float
    recall: float
    f1: float
    brier: float | None  # None when the hold-out predictions were not kept
    rows: int


class Period(Result):
    """One period (chunk) of a version's predictions, by prediction time."""

    start: str
    end: str
    predictions: int
    labelled: int  # predictions with an outcome
    coverage: float  # labelled / predictions
    realised: Realised
    degraded: bool | None  # None: not enough outcomes to judge


def period_labels(periods: list[Period]) -> list[str]:
    """Short names of the periods: their start dates; day and minute when two share a date;
    the time to the second when two share a minute."""
    for cut in (slice(0, 10), slice(5, 16), slice(11, 19)):
        labels = [period.start[cut].replace("T", " ") for period in periods]
        if len(set(labels)) == len(labels):
            return labels
    return labels


class VersionPerformance(Result):
    model_version: int | None  # None: every version together (--by all)
    predictions: int
    labelled: int
    coverage: float
    realised: Realised
    holdout: HoldOut | None
    degraded: bool | None
    finding: str | None  # the degradation in words
    periods: list[Period]
    # of the predictions (and of the labelled ones), those read from batch score files
    # (``--scores``); the others come from the inference log. 0 in reports from before.
    from_scores: int = 0
    labelled_from_scores: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def from_log(self) -> int:
        """The predictions read from the inference log."""
        return self.predictions - self.from_scores


def sources(version: VersionPerformance) -> str:
    """Where the predictions came from, in words, when batch scores are among them."""
    if not version.from_scores:
        return ""
    return f" ({version.from_log:,} logged, {version.from_scores:,} batch-scored)"


class PerformanceSettings(Result):
    min_per_class: int
    max_auc_drop: float
    level: float
    chunk: str
    outcome_window_days: float


class PerformanceReport(Result):
    generated_at: str
    degraded: bool
    window: str
    inference_log: str
    join_rule: str
    rule: str
    settings: PerformanceSettings
    versions: list[VersionPerformance]
    notes: list[str]
    scores: list[str] = Field(default_factory=list)  # the batch score files read (--scores)

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, text: str | bytes) -> PerformanceReport:
        return cls.model_validate_json(text)
