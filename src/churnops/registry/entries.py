"""What the registry records about each model version and each event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from typing_extensions import TypedDict

from churnops.errors import BadInputError
from churnops.schema import FeatureSchema

Status = Literal["current", "archived", "rejected"]
Action = Literal["register", "promote", "rollback", "reject"]


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
    version: int
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
    from_version: int | None
    to_version: int | None
    reason: str
    user: str


class RegistryFile(BaseModel):
    """The whole of ``registry/metadata.json``: its atomic rename is the registry's commit point."""

    format: int = 1
    current_version: int | None = None
    versions: list[ModelVersion] = Field(default_factory=list)
    last_event: HistoryEvent | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RegistryFile:
        numbers = [v.version for v in self.versions]
        if len(numbers) != len(set(numbers)):
            raise ValueError("a version number appears twice")
        if self.current_version is not None and self.current_version not in numbers:
            raise ValueError(f"current_version {self.current_version} is not a registered version")
        return self

    def get(self, version: int) -> ModelVersion | None:
        return next((v for v in self.versions if v.version == version), None)

    @property
    def current(self) -> ModelVersion | None:
        return None if self.current_version is None else self.get(self.current_version)


def parse_version(text: str) -> int:
    digits = text.strip().lower().removeprefix("v")
    if not digits.isdigit():
        raise BadInputError(f"'{text}' is not a model version; write it like v3 or 3")
    return int(digits)
