"""Request and response models of the API; the request side is built from a feature schema.

Nothing here repeats a feature by hand: names, integer-or-float, ranges, category lists,
aliases and descriptions all come from ``FeatureSchema``, so the schema of the model serving
decides validation, the OpenAPI document (``/docs`` enumerates the categories) and the 422
messages together. Values are read by the rules ``prepare`` applies to CSV cells
(``churnops.data.cells``): numeric text is a number, categories are matched without regard to
case, spaces and punctuation or through their aliases — but a boolean, a list or text that is
not a number is refused for a number.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError, core_schema

from churnops.data import cells
from churnops.schema import (
    CUSTOMER_ID_NUMBER_MAX,
    CUSTOMER_ID_PATTERN,
    CUSTOMER_ID_RULE,
    REQUEST_ID_PATTERN,
    REQUEST_ID_RULE,
    SEED_EXAMPLE,
    CategoricalFeature,
    FeatureSchema,
    NumericFeature,
    whole_number_text,
)

ExtraFields = Literal["ignore", "forbid"]


@dataclass(frozen=True)
class IdText:
    """An id as the API reads it wherever it is sent: text, surrounding spaces dropped, held to
    ``pattern`` — or, with ``number_max``, a JSON whole number from 0 to ``number_max`` read as
    its decimal text (300 and 300.0 are "300"; the OpenAPI document says integer, which JSON
    Schema holds 300.0 to be). Anything else is one error, ``message``, saying in words what
    an id may hold (not the regular expression). Text is tried first, in pydantic's core: a
    text id costs no Python call."""

    pattern: str
    error_type: str
    message: str
    number_max: int | None = None

    def __get_pydantic_core_schema__(self, _: Any, __: Any) -> core_schema.CoreSchema:
        text = core_schema.str_schema(strip_whitespace=True, pattern=self.pattern)
        if self.number_max is None:
            return core_schema.custom_error_schema(
                text, custom_error_type=self.error_type, custom_error_message=self.message
            )
        number = core_schema.no_info_plain_validator_function(
            self._number_text,
            json_schema_input_schema=core_schema.int_schema(ge=0, le=self.number_max),
        )
        return core_schema.union_schema(
            [text, number],
            mode="left_to_right",
            custom_error_type=self.error_type,
            custom_error_message=self.message,
        )

    def _number_text(self, value: Any) -> str:
        """The decimal text of a whole number in range; reached only by a value that is no text
        id (a failure here is reported as the union's one error)."""
        text = whole_number_text(value)
        if text is None or not 0 <= int(text) <= cast(int, self.number_max):
            raise PydanticCustomError(self.error_type, self.message)
        return text


CustomerId = Annotated[
    str,
    IdText(
        CUSTOMER_ID_PATTERN,
        "customer_id_invalid",
        f"Input should be a customer id: text of {CUSTOMER_ID_RULE}; or a whole number from 0 "
        f"to {CUSTOMER_ID_NUMBER_MAX} (send a larger one as text)",
        CUSTOMER_ID_NUMBER_MAX,
    ),
]
RequestId = Annotated[
    str,
    IdText(
        REQUEST_ID_PATTERN, "request_id_invalid", f"Input should be a request id: {REQUEST_ID_RULE}"
    ),
]
ROW_DESCRIPTION = (
    "One customer's features, as declared by the feature schema of the model serving. Numbers "
    'may be sent as numeric text ("12"); categories in any case and spacing, or as a declared '
    "alias. Fields the model does not take are {extra}."
)
EXTRA_WORDING = {"ignore": "ignored", "forbid": "refused (CHURNOPS_API_EXTRA_FIELDS=forbid)"}


def read_number(value: Any) -> Any:
    """Numeric text becomes its number (as ``prepare`` reads a CSV cell); booleans and other
    text are refused, which pydantic's lax mode would turn into numbers.

    (Strict mode is not used because it refuses 14.0 for an integer, which JSON Schema — and
    so the OpenAPI document — calls a valid integer; 14.5 is still refused.)"""
    if isinstance(value, bool):
        raise PydanticCustomError("number_type", "Input should be a number, not a boolean")
    if not isinstance(value, str):
        return value
    number = cells.number(value)
    if number is None:
        raise PydanticCustomError("number_type", "Input should be a number, not blank text")
    if math.isnan(number):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise PydanticCustomError(
            "number_type",
            "Input should be a number (or numeric text such as '12'), not {text}",
            {"text": repr(shown)},
        )
    return number


def category_reader(feature: CategoricalFeature) -> Callable[[Any], Any]:
    """A validator giving each spelling of a category (and each alias) its canonical name, as
    ``prepare`` does; a whole number is read as its text (a 0/1 flag sent as 0). Anything
    else is left for the category check to refuse with the list of allowed values."""
    exact = frozenset(feature.categories)
    spellings = feature.spellings()

    def read(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value not in exact:
            return cells.category(value, spellings) or value
        return value

    return read


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
    return Annotated[kind, BeforeValidator(read_number)], field


def _categorical_field(feature: CategoricalFeature) -> tuple[Any, Any]:
    allowed = Literal.__getitem__(feature.categories)  # Literal["a", "b", …] from the tuple
    notes = [feature.description] if feature.description else []
    if feature.aliases:
        shown = ", ".join(f"{alias!r} → {target!r}" for alias, target in feature.aliases.items())
        notes.append(f"Aliases: {shown}.")
    return Annotated[allowed, BeforeValidator(category_reader(feature))], Field(
        description=" ".join(notes) or None, examples=[feature.categories[0]]
    )


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


def build_row_model(schema: FeatureSchema, extra: ExtraFields = "ignore") -> type[BaseModel]:
    """``CustomerFeatures``: one customer's features, validated against the schema; fields it
    does not declare are ignored (a client sending the whole customer record is normal) or,
    with ``extra="forbid"``, refused."""
    fields: dict[str, Any] = {}
    for num in schema.numeric:
        fields[num.name] = _numeric_field(num)
    for cat in schema.categorical:
        fields[cat.name] = _categorical_field(cat)
    fields[schema.id_column] = (
        CustomerId | None,
        Field(default=None, description="Optional: your id for this customer, kept in the log"),
    )
    model: type[BaseModel] = create_model(
        "CustomerFeatures",
        __config__=ConfigDict(
            extra=extra,
            frozen=True,
            json_schema_extra={"examples": [_example(schema)]},
        ),
        __doc__=ROW_DESCRIPTION.format(extra=EXTRA_WORDING[extra]),
        **fields,
    )
    lost = set(fields) - set(model.model_fields)
    if lost:  # pydantic drops a field named like its own settings (``model_config``)
        raise ValueError(f"pydantic reserves the name(s) {', '.join(sorted(lost))}")
    return model


# ---- responses (documentation only: the endpoints serialise with orjson) -----------------------
class Prediction(BaseModel):
    request_id: str = Field(description="Echoed in the X-Request-ID header; yours if you sent one")
    model_version: int = Field(description="The registry version that answered")
    churn_probability: float = Field(ge=0, le=1)
    churn: bool = Field(description="churn_probability ≥ threshold")
    threshold: float
    customer_id: str | None = None
    variant: Literal["champion", "challenger"] | None = Field(
        default=None, description="During an experiment: which arm answered"
    )
    variant_random: bool | None = Field(
        default=None,
        description="During an A/B experiment: true when the request had no customer id, so "
        "its variant was drawn at random (not stable across requests)",
    )
    experiment_id: str | None = Field(default=None, description="During an experiment")


class BatchItem(BaseModel):
    row: int = Field(description="The row's position in the request, from 0")
    churn_probability: float = Field(ge=0, le=1)
    churn: bool
    customer_id: str | None = None
    model_version: int | None = Field(
        default=None, description="During an experiment: the version that answered the row"
    )
    threshold: float | None = Field(
        default=None, description="During an experiment: the threshold the row was decided at"
    )
    variant: Literal["champion", "challenger"] | None = None
    variant_random: bool | None = None
    experiment_id: str | None = None


class ProblemEntry(BaseModel):
    """One validation error, as FastAPI words them: ``loc`` is ``["body", field]`` for
    ``/predict`` and ``["body", row, field]`` for a batch (``row`` counts from 0)."""

    type: str
    loc: list[str | int]
    msg: str
    input: Any = Field(default=None, description="The offending value, when small")


class BatchPrediction(BaseModel):
    request_id: str
    model_version: int = Field(description="The champion (in A/B, each row says its version)")
    threshold: float = Field(description="The champion's (in A/B, each row says its own)")
    count: int = Field(description="Rows answered")
    predictions: list[BatchItem] = Field(description="In the order of the request's rows")
    rows_refused: int = Field(
        default=0, description="Rows left out for bad values (CHURNOPS_BATCH_ERRORS=skip)"
    )
    errors: list[ProblemEntry] = Field(
        default_factory=list, description="The first 20 errors of the rows left out"
    )
    error_count: int = Field(default=0, description="All errors of the rows left out")


class ValidationProblem(BaseModel):
    """A 422: the first 20 errors, and how many there are in all."""

    detail: list[ProblemEntry]
    error_count: int
    rows_refused: int | None = Field(
        default=None, description="/predict/batch: rows with at least one error"
    )


class ExperimentServing(BaseModel):
    """The experiment the API applies (``churnops experiment start``)."""

    id: str
    mode: Literal["ab", "shadow"] = Field(
        description="ab: the challenger answers `share` % of customers (stable by customer id); "
        "shadow: the champion answers, the challenger's score is only logged"
    )
    champion: int
    challenger: int
    share: float | None = Field(description="A/B: percent of customers the challenger answers")
    started_at: str
    challenger_loaded_at: str = Field(description="When this process verified the challenger")


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
        default=None,
        description="The registry disagrees with itself: registry/current_model.txt with "
        "metadata.json, or no current version while one serves",
    )
    experiment: ExperimentServing | None = Field(
        default=None, description="The running experiment this process routes"
    )
    experiment_error: str | None = Field(
        default=None,
        description="Why the registry's experiment is not applied (the champion answers all)",
    )
    registry_updates: Literal["notify", "poll"] = Field(
        default="poll",
        description="How registry changes reach this process now: database notifications "
        "(polling as the fallback), or polling alone",
    )
    last_swap_by: Literal["notify", "poll"] | None = Field(
        default=None, description="What made this process load its model, after the start"
    )


class LogHealth(BaseModel):
    """The inference-log writer, in ``/health/ready`` (it does not decide readiness)."""

    writer_running: bool
    written: int
    pending: int
    dropped: int = Field(description="Refused: the queue was full")
    failed: int = Field(description="Accepted, but the database did not take them")
    last_error: str | None = None


class Liveness(BaseModel):
    """The process answers; nothing about the model (``/health/ready`` says that)."""

    status: Literal["alive"] = "alive"


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    model_version: int | None = None
    reason: str | None = None
    inference_log: LogHealth | None = Field(default=None, description="None when logging is off")
    experiment_error: str | None = Field(
        default=None,
        description="Why the registry's experiment is not applied (the champion answers all)",
    )


class ReloadResult(BaseModel):
    changed: bool = Field(description="Whether another version became the current one")
    model_version: int | None
    error: str | None = None
    experiment_id: str | None = Field(
        default=None, description="The experiment the API now applies (none: no experiment)"
    )
    experiment_error: str | None = Field(
        default=None, description="Why the registry's experiment is not applied, if it is not"
    )
