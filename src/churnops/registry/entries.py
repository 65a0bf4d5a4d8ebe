"""What the registry records about each model version and each event."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from typing_extensions import TypedDict

from churnops.errors import BadInputError, CheckFailedError
from churnops.schema import FeatureSchema

Status = Literal["current", "archived", "rejected"]
Action = Literal["register", "promote", "rollback", "reject", "experiment_start", "experiment_stop"]
ExperimentMode = Literal["ab", "shadow"]
SHADOW_WORDS = "in the shadow of"  # how a shadow experiment's start event describes it

FORMAT = 2
"""Format 2 added ``last_version``; a format 1 file reads as if it held its highest version."""

MAX_VERSION = 2**31 - 1
"""The highest version number: a 32-bit signed integer, so SQLite, numpy, Prometheus' float64
gauges and JSON readers in JavaScript all hold every version exactly."""

VersionNumber = Annotated[int, Field(ge=1, le=MAX_VERSION)]
VERSION_RE = re.compile(r"v?([0-9]+)", re.IGNORECASE | re.ASCII)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class TrainingData(BaseModel):
    path: str
    sha256: str
    rows: int


class Metrics(TypedDict):
    """The hold-out metrics every version has; further keys (ONNX parity, oracle AUC, CV) are
    kept as they are. Checked on read, so a hand-edited value fails with a clear message."""

    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]

    accuracy: float
    precision: float
    recall: float
    f1: float
    roc_auc: float | None
    confusion_matrix: list[list[int]]
    threshold: float
    rows: int


class ModelVersion(BaseModel):
    version: VersionNumber
    file: str
    sha256: str
    onnx_file: str
    onnx_sha256: str
    created_at: str
    status: Status
    metrics: Metrics
    threshold: float
    hyperparameters: dict[str, Any]
    feature_schema: dict[str, Any]
    training_data: TrainingData
    libraries: dict[str, str]
    git_commit: str | None = None
    seed: int
    gate: dict[str, Any] = Field(default_factory=dict)

    @field_validator("file", "onnx_file")
    @classmethod
    def _inside_models(cls, name: str) -> str:
        """Artifacts live in models/: a bare file name, never a path that leads elsewhere."""
        if name in ("", ".", "..") or any(char in name for char in "/\\\0"):
            raise ValueError(f"{name!r} is not a file name inside models/")
        return name

    @field_validator("feature_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        FeatureSchema.model_validate(value)
        return value

    @property
    def name(self) -> str:
        return f"v{self.version}"


class HistoryEvent(BaseModel):
    seq: int
    time: str
    action: Action
    from_version: VersionNumber | None
    to_version: VersionNumber | None
    reason: str
    user: str


class Experiment(BaseModel):
    """The running experiment: registry state like the current version, changed only in a
    registry commit (so recorded in the history) and followed by the API like the pointer.

    A/B: ``share`` percent of customers — by a stable hash of the customer id salted with
    ``id`` — are answered by the challenger. Shadow: the champion answers every request and
    the challenger scores the same rows off the request path (``share`` is None).
    """

    id: str = Field(pattern=r"^exp[0-9]{1,10}$")  # from the start event's seq: never reused
    mode: ExperimentMode
    champion: VersionNumber  # the current version, for the whole experiment
    challenger: VersionNumber
    share: float | None = Field(default=None, gt=0, lt=100)
    started_at: str
    started_by: str

    def describe(self) -> str:
        if self.mode == "shadow":
            return f"v{self.challenger} scores {SHADOW_WORDS} v{self.champion}"
        return (
            f"v{self.challenger} answers {self.share:g} % of customers, v{self.champion} the rest"
        )

    @model_validator(mode="after")
    def _arms(self) -> Experiment:
        if self.champion == self.challenger:
            raise ValueError("the challenger is the champion")
        if (self.share is None) != (self.mode == "shadow"):
            raise ValueError("an A/B experiment has a share; a shadow one has none")
        return self


class RegistryFile(BaseModel):
    """The whole of ``registry/metadata.json``: its atomic rename is the registry's commit point.

    ``last_version`` is the highest version number ever handed out, registered or not (a
    training killed before its commit still used its number), so no number is given twice.
    """

    format: int = FORMAT
    current_version: VersionNumber | None = None
    last_version: int = Field(default=0, ge=0, le=MAX_VERSION)
    versions: list[ModelVersion] = Field(default_factory=list)
    last_event: HistoryEvent | None = None
    experiment: Experiment | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RegistryFile:
        numbers = [v.version for v in self.versions]
        if len(numbers) != len(set(numbers)):
            raise ValueError("a version number appears twice")
        if self.current_version is not None and self.current_version not in numbers:
            raise ValueError(f"current_version {self.current_version} is not a registered version")
        experiment = self.experiment
        if experiment is not None and (
            experiment.champion != self.current_version or experiment.challenger not in numbers
        ):
            raise ValueError("the experiment's champion is not current or its challenger unknown")
        self.last_version = max([self.last_version, *numbers])
        return self

    def refuse_during_experiment(self, doing: str) -> None:
        """Changing the current version would pull the champion from under a running
        experiment: refuse ``doing`` (in words) until it is stopped."""
        experiment = self.experiment
        if experiment is not None:
            running = f"experiment {experiment.id} is running ({experiment.describe()})"
            raise CheckFailedError(
                f"{doing} refused: {running}; stop it first: `churnops experiment stop` (or "
                "`experiment stop --promote`)"
            )

    def get(self, version: int) -> ModelVersion | None:
        return next((v for v in self.versions if v.version == version), None)

    @property
    def current(self) -> ModelVersion | None:
        return None if self.current_version is None else self.get(self.current_version)


def parse_version(text: str) -> int:
    """``v3`` or ``3`` (ASCII digits only) as a version number, from 1 to ``MAX_VERSION``."""
    match = VERSION_RE.fullmatch(text.strip())
    if match is None:
        raise BadInputError(f"{text!r} is not a model version; write it like v3 or 3")
    digits = match.group(1).lstrip("0") or "0"
    if len(digits) > len(str(MAX_VERSION)) or not 1 <= int(digits) <= MAX_VERSION:
        raise BadInputError(
            f"there is no model version {text.strip()}; versions go from v1 to v{MAX_VERSION}"
        )
    return int(digits)
