"""The drift report as typed results: the report, each model version's group, its chunks over
time, and each feature's verdict with its statistics. Every output (JSON, terminal, HTML,
Prometheus gauges, webhook) reads these attributes.

The JSON layout is pinned by stored examples (``tests/integration/drift_examples``). Two rules
give it from the models:

- a statistics block (``numeric``, ``categorical``, ``missing``, ``reference_scale``,
  ``bounds``) is written as keys of the object that holds it, in its place;
- an optional section (listed in ``OPTIONAL``, and every block) is left out when it is None;
  any other field is always written, null included.

(A block's field name must not be one of its keys: reading back relies on it.)

Reading a report back (``DriftReport.from_json``) gathers each block's keys again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from churnops.monitoring.rule import NOT_COMPARED, Judgement, Thresholds
from churnops.monitoring.statistics import CategoricalStats, Finite, MissingStats, NumericStats

Kind = Literal["numeric", "categorical"]


def _block_model(annotation: Any) -> type[BaseModel]:
    """The model class in a block field's annotation (``NumericStats | None``)."""
    return next(
        arg
        for arg in (annotation, *get_args(annotation))
        if isinstance(arg, type) and issubclass(arg, BaseModel)
    )


class Section(BaseModel):
    """A part of the report, written by the two layout rules above."""

    model_config = ConfigDict(frozen=True)
    BLOCKS: ClassVar[tuple[str, ...]] = ()
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _layout(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        written: dict[str, Any] = {}
        for key, value in handler(self).items():
            if key in self.BLOCKS:
                written.update(value or {})
            elif value is not None or key not in self.OPTIONAL:
                written[key] = value
        return written

    @model_validator(mode="before")
    @classmethod
    def _gather_blocks(cls, data: Any) -> Any:
        """A written report has each block's keys in place: gather them (a block is there when
        all its required keys are)."""
        if not isinstance(data, dict) or not cls.BLOCKS:
            return data
        data = dict(data)
        for name in cls.BLOCKS:
            if name in data:
                continue
            fields = _block_model(cls.model_fields[name].annotation).model_fields
            present = [key for key in fields if key in data]
            required = [key for key, field in fields.items() if field.is_required()]
            if present and all(key in data for key in required):
                data[name] = {key: data.pop(key) for key in present}
        return data


class ReferenceScale(BaseModel):
    model_config = ConfigDict(frozen=True)

    spread: Finite  # what Wasserstein distances are divided by
    spread_source: str  # "reference std", or "schema range" for a constant reference
    scale: Literal["ratio", "interval"] = "interval"  # ratio: money, counts (mean_change)


class NumericHistogram(BaseModel):
    model_config = ConfigDict(frozen=True)

    edges: list[float]
    reference: list[float]  # share of rows per bin
    current: list[float]


class CategoricalHistogram(BaseModel):
    model_config = ConfigDict(frozen=True)

    categories: list[str]
    reference: list[float]  # share of rows per category
    current: list[float]


class FeatureResult(Section):
    """One feature's (or the prediction's) verdict. Chunks carry the verdict fields only; the
    whole window adds the reasons, every statistic, the histogram and ``recent_drift``."""

    BLOCKS = ("numeric", "categorical", "missing", "reference_scale")
    OPTIONAL = frozenset({"reasons", "unseen_values", "histogram", "recent_drift"})

    kind: Kind
    status: Judgement
    drifted: bool
    effect_ratio: float  # largest effect / its drift floor
    significant_effect_ratio: float  # the same over significant tests only
    psi: Finite
    p_value_adjusted: Finite  # the smallest Holm-adjusted p-value of its tests
    current_rows: int | None
    current_count: int | None  # present (non-missing) current values
    missing_rate_current: Finite
    reasons: list[str] | None = None
    numeric: NumericStats | None = None
    categorical: CategoricalStats | None = None
    missing: MissingStats | None = None
    reference_scale: ReferenceScale | None = None
    unseen_values: dict[str, int] | None = None  # the most frequent values never seen
    histogram: NumericHistogram | CategoricalHistogram | None = None
    recent_drift: bool | None = None  # drifts in each of the last chunks

    @property
    def compared(self) -> bool:
        return self.status != NOT_COMPARED

    @property
    def stats(self) -> NumericStats | CategoricalStats | None:
        return self.numeric or self.categorical


class SummaryFeature(FeatureResult):
    """A feature's worst verdict over the model versions, and the version that gave it."""

    model_version: int | None


class Bounds(Section):
    """Where a chunk lies: timestamps for log rows, row numbers (from 1) for a file."""

    OPTIONAL = frozenset({"start", "end", "first_row", "last_row"})

    start: str | None = None
    end: str | None = None
    first_row: int | None = None
    last_row: int | None = None

    @property
    def begins(self) -> str:
        return self.start if self.start is not None else f"row {self.first_row}"

    @property
    def ends(self) -> str:
        return self.end if self.end is not None else f"row {self.last_row}"


class JudgedChunk(Section):
    BLOCKS = ("bounds",)

    rows: int
    drift_detected: bool
    drift_score: float
    features: dict[str, FeatureResult]
    prediction: FeatureResult | None
    bounds: Bounds

    def verdict(self, name: str) -> FeatureResult | None:
        """A feature's verdict in this chunk (``prediction`` for the prediction's)."""
        return self.prediction if name == "prediction" else self.features.get(name)


class UnjudgedChunk(Section):
    """A chunk with too few rows for a verdict."""

    BLOCKS = ("bounds",)

    rows: int
    bounds: Bounds
    drift_detected: None = None
    drift_score: None = None
    note: str

    def verdict(self, name: str) -> FeatureResult | None:
        return None


Chunk = JudgedChunk | UnjudgedChunk


def judged(chunks: list[Chunk]) -> list[JudgedChunk]:
    """The chunks that got a verdict (chunks with too few rows are passed over)."""
    return [chunk for chunk in chunks if isinstance(chunk, JudgedChunk)]


def latest_run(chunks: list[JudgedChunk]) -> tuple[int, int] | None:
    """(first, last) positions of the latest run of consecutive drifting chunks, if any."""
    last = max((i for i, c in enumerate(chunks) if c.drift_detected), default=None)
    if last is None:
        return None
    first = last
    while first > 0 and chunks[first - 1].drift_detected:
        first -= 1
    return first, last


class ReferenceInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    version: int | None
    sample_rows: int
    training_rows: int | None
    prediction_rows: int


class GroupResult(BaseModel):
    """The rows one model version served (or a file), judged against its reference."""

    model_config = ConfigDict(frozen=True)

    model_version: int | None
    reference: ReferenceInfo
    skipped_features: dict[str, str]  # feature → why it could not be compared
    rows: int
    drift_detected: bool  # the window drifts, or its latest chunks do
    drift_score: float
    window_drift: bool
    recent_drift: bool
    features: dict[str, FeatureResult]
    prediction: FeatureResult | None
    first_ts: str | None
    last_ts: str | None
    drift_began: str | None  # start of the latest run of drifting chunks
    drift_ended: str | None  # its end, when later chunks are calm again
    chunks: list[Chunk]

    def verdicts(self) -> dict[str, FeatureResult]:
        """The features' verdicts, then the prediction's."""
        if self.prediction is None:
            return dict(self.features)
        return {**self.features, "prediction": self.prediction}


class ReportThresholds(Thresholds):
    psi_bins: int
    chunks: str


class Source(Section):
    OPTIONAL = frozenset({"window", "rows", "reference"})

    kind: Literal["file", "inference log"]
    path: str
    window: str | None = None
    rows: int | None = None
    reference: str | None = None  # a reference file given instead of the registry's


class DriftReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    generated_at: str
    drift_detected: bool
    drift_score: float
    drift_began: str | None
    features: dict[str, SummaryFeature]
    prediction: FeatureResult | None
    rule: str
    thresholds: ReportThresholds
    source: Source
    groups: list[GroupResult]
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (every number finite or null)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, text: str | bytes) -> DriftReport:
        return cls.model_validate_json(text)

    def with_status(self, status: Judgement) -> list[str]:
        """The features whose worst verdict is ``status``."""
        return [name for name, entry in self.features.items() if entry.status == status]


@dataclass(frozen=True)
class Shown:
    """A column of the per-feature tables (terminal and HTML): its label, its value, and when
    it is left out of a narrow terminal (lowest first; None: never, it decides the verdict)."""

    label: str
    value: Callable[[FeatureResult], float | None]
    dropped: int | None = None


def _test_statistic(entry: FeatureResult) -> float | None:
    if entry.numeric is not None:
        return entry.numeric.ks_statistic
    return entry.categorical.chi2_statistic if entry.categorical is not None else None


def _effect(entry: FeatureResult) -> float | None:
    if entry.numeric is not None:
        return entry.numeric.wasserstein_norm
    return entry.categorical.js_distance if entry.categorical is not None else None


TABLE: tuple[Shown, ...] = (
    Shown("PSI", lambda e: e.psi, dropped=3),
    Shown("KS D | χ²", _test_statistic, dropped=2),
    Shown("p Holm", lambda e: e.p_value_adjusted),
    Shown("W/σ | JS", _effect),
    Shown("Δ mean", lambda e: e.numeric.mean_change if e.numeric else None, dropped=4),
    Shown("unseen", lambda e: e.categorical.unseen_share if e.categorical else None, dropped=0),
    Shown("Δ miss", lambda e: e.missing.missing_rate_change if e.missing else None, dropped=1),
)
