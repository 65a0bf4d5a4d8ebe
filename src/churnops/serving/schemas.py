"""Request and response models of the API; the request side is built from the feature schema.

Nothing here repeats a feature by hand: names, integer-or-float, ranges, category lists and
descriptions all come from ``FeatureSchema``, so a change to the schema changes validation,
the OpenAPI document (``/docs`` enumerates the categories) and the 422 messages together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from churnops.schema import (
    CUSTOMER_ID_PATTERN,
    SEED_EXAMPLE,
    CategoricalFeature,
    FeatureSchema,
    NumericFeature,
)


def only_numbers(value: Any) -> Any:
    """Refuse strings and booleans, which pydantic's lax mode would turn into numbers.

    (Strict mode is not used because it refuses 14.0 for an integer, which JSON Schema — and
    so the OpenAPI document — calls a valid integer; 14.5 is still refused.)"""
    if isinstance(value, str | bool):
        raise PydanticCustomError(
            "number_type", "Input should be a number, not {kind}", {"kind": type(value).__name__}
        )
    return value


def _numeric_field(feature: NumericFeature) -> tuple[Any, Any]:
    limits: dict[str, Any] = {"ge": feature.min, "le": feature.max}
    kind: type = float
    if feature.kind == "int":
        kind, limits = int, {"ge": int(feature.min), "le": int(feature.max)}
    field = Field(
        description=feature.description or None,
        allow_inf_nan=False,
        examples=[limits["ge"]],
        **limits,
    )
    return Annotated[kind, BeforeValidator(only_numbers)], field


def _categorical_field(feature: CategoricalFeature) -> tuple[Any, Any]:
    allowed = Literal.__getitem__(feature.categories)  # Literal["a", "b", …] from the tuple
    return allowed, Field(description=feature.description or None, examples=[feature.categories[0]])


def _example(schema: FeatureSchema) -> dict[str, Any]:
    """The seed README's example body when the schema is the default one, else mid-range values."""
    seed_example: dict[str, Any] = dict(SEED_EXAMPLE)
    if set(seed_example) == set(schema.feature_names):
        return seed_example
    row: dict[str, Any] = {}
    for num in schema.numeric:
        middle = (num.min + num.max) / 2
        row[num.name] = int(middle) if num.kind == "int" else middle
    row.update({cat.name: cat.categories[0] for cat in schema.categorical})
    return row


def build_row_model(schema: FeatureSchema) -> type[BaseModel]:
    """``CustomerFeatures``: one customer's features, validated against the schema."""
    fields: dict[str, Any] = {}
    for num in schema.numeric:
        fields[num.name] = _numeric_field(num)
    for cat in schema.categorical:
        fields[cat.name] = _categorical_field(cat)
    fields[schema.id_column] = (
        str | None,
        Field(
            default=None,
            pattern=CUSTOMER_ID_PATTERN,
            description="Optional: your id for this customer, kept in the inference log",
        ),
    )
    model: type[BaseModel] = create_model(
        "CustomerFeatures",
        __config__=ConfigDict(
            extra="forbid",  # a misspelt feature must not be silently ignored
            frozen=True,
            json_schema_extra={"examples": [_example(schema)]},
        ),
        __doc__="One customer's features, as declared by the feature schema.",
        **fields,
    )
    return model


@dataclass(frozen=True)
class RequestModels:
    """The request types one app validates with: a row, and the batch annotation around it."""

    row: type[BaseModel]
    batch: Any  # Annotated[list[row], Field(min_length=1, max_length=limit)]
    batch_limit: int


def build_request_models(schema: FeatureSchema, batch_limit: int) -> RequestModels:
    row = build_row_model(schema)
    batch = Annotated[
        list[row],  # type: ignore[valid-type]
        Field(
            min_length=1,
            max_length=batch_limit,
            description=f"1 to {batch_limit:,} customers, scored in one call",
        ),
    ]
    return RequestModels(row=row, batch=batch, batch_limit=batch_limit)


# ---- responses (documentation only: the endpoints serialise with orjson) -----------------------
class Prediction(BaseModel):
    request_id: str = Field(description="Echoed in the X-Request-ID header; yours if you sent one")
    model_version: int = Field(description="The registry version that answered")
    churn_probability: float = Field(ge=0, le=1)
    churn: bool = Field(description="churn_probability ≥ threshold")
    threshold: float
    customer_id: str | None = None


class BatchItem(BaseModel):
    churn_probability: float = Field(ge=0, le=1)
    churn: bool
    customer_id: str | None = None


class BatchPrediction(BaseModel):
    request_id: str
    model_version: int
    threshold: float
    count: int
    predictions: list[BatchItem] = Field(description="In the order of the request's rows")


class ModelInfo(BaseModel):
    ready: bool
    version: int | None = None
    file: str | None = None
    onnx_file: str | None = None
    created_at: str | None = None
    loaded_at: str | None = None
    threshold: float | None = None
    sha256: str | None = None
    onnx_sha256: str | None = None
    metrics: dict[str, Any] | None = None
    hyperparameters: dict[str, Any] | None = None
    feature_schema: dict[str, Any] | None = None
    last_reload_error: str | None = None
    last_check_at: str | None = None
    pointer_warning: str | None = Field(
        default=None, description="registry/current_model.txt disagrees with metadata.json"
    )


class LogHealth(BaseModel):
    """The inference-log writer, in ``/health/ready`` (it does not decide readiness)."""

    writer_running: bool
    written: int
    pending: int
    dropped: int = Field(description="Refused: the queue was full")
    failed: int = Field(description="Accepted, but the database did not take them")
    last_error: str | None = None


class Health(BaseModel):
    status: str
    model_version: int | None = None
    reason: str | None = None


class Readiness(Health):
    inference_log: LogHealth | None = Field(default=None, description="None when logging is off")


class ReloadResult(BaseModel):
    changed: bool
    model_version: int | None
    error: str | None = None
