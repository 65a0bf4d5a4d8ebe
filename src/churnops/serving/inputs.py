"""What a model takes from a request, built from its feature schema: ``ModelInputs``.

Each loaded model carries the one built from the schema it was trained on — the request
model that validates a row, the encoder that turns it into the ONNX input, and the columns
its rows have in the inference log — so a request that reads ``predictor.current`` once
validates, scores and logs with parts that belong together, whatever is swapped meanwhile.

A batch is validated in one call. When rows are bad, the errors say which (``loc`` is
``["body", row, field]``) — unless there are more than ``MAX_EXAMINED``, too many to list
cheaply: then each row is validated on its own, to count the bad rows and list the first
errors. With ``CHURNOPS_BATCH_ERRORS=skip`` the good rows are validated again without the bad
ones, and answered. The errors listed are the first ``MAX_ERRORS`` (a row with more than
``MAX_EXAMINED`` is summarised in one entry): however bad a batch is, the answer stays small
and cheap to build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, cast

import pydantic_core
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from churnops.schema import FeatureSchema
from churnops.serving.encoding import RowEncoder
from churnops.serving.errors import (
    MAX_ERRORS,
    MAX_EXAMINED,
    SummarisedValidationError,
    listed_errors,
)
from churnops.serving.inference_log import LogLayout
from churnops.serving.schemas import ExtraFields, build_row_model

BatchErrors = Literal["refuse", "skip"]


@dataclass(frozen=True)
class ValidBatch:
    """The rows of a batch that can be answered, and what was wrong with the others."""

    rows: list[BaseModel]
    positions: list[int]  # each row's position in the request
    rows_refused: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)  # the first MAX_ERRORS
    error_count: int = 0


class ModelInputs:
    """Validation, encoding and log layout of one feature schema."""

    def __init__(
        self, schema: FeatureSchema, batch_limit: int, extra: ExtraFields, batch_errors: BatchErrors
    ) -> None:
        self.schema = schema
        row: Any = build_row_model(schema, extra)
        self.row_model: type[BaseModel] = row
        self.batch_limit = batch_limit
        self.skip_bad_rows = batch_errors == "skip"
        self.encoder = RowEncoder(schema)
        self.log = LogLayout(schema)
        self._row: TypeAdapter[Any] = TypeAdapter(row)
        self._batch: TypeAdapter[Any] = TypeAdapter(
            Annotated[list[row], Field(min_length=1, max_length=batch_limit)]  # type: ignore[valid-type]
        )
        self._rows: TypeAdapter[Any] = TypeAdapter(list[row])  # type: ignore[valid-type]

    def row(self, body: bytes) -> Any:
        """One validated row from a JSON body (a 422 otherwise)."""
        try:
            return self._row.validate_json(body)
        except ValidationError as exc:
            raise SummarisedValidationError(listed_errors(exc), exc.error_count()) from None

    def batch(self, body: bytes) -> ValidBatch:
        """The validated rows of a JSON list; a 422 for a body that is not a list of 1 to
        ``batch_limit`` items, and for any bad row unless bad rows are skipped (then only when
        no row is good)."""
        try:
            rows: list[BaseModel] = self._batch.validate_json(body)
            return ValidBatch(rows, list(range(len(rows))))
        except ValidationError as exc:
            whole = exc
        if whole.error_count() <= MAX_EXAMINED:  # few enough to say which rows they are in
            found = {error["loc"][0] if error["loc"] else None for error in whole.errors()}
            if all(isinstance(row, int) for row in found):
                return self._without(body, whole, cast(set[int], found))
            raise SummarisedValidationError(listed_errors(whole), whole.error_count()) from None
        items = _items(body)
        if not isinstance(items, list) or not 1 <= len(items) <= self.batch_limit:
            raise SummarisedValidationError(listed_errors(whole), whole.error_count()) from None
        return self._answerable(self._rows_one_by_one(items))

    def _without(self, body: bytes, whole: ValidationError, bad: set[int]) -> ValidBatch:
        """The rows not in ``bad`` (where ``whole``'s errors are), validated."""
        errors, count = listed_errors(whole), whole.error_count()
        if not self.skip_bad_rows:
            raise SummarisedValidationError(errors, count, len(bad))
        items = cast(list[Any], _items(body))  # validated as a list of this length already
        positions = [i for i in range(len(items)) if i not in bad]
        rows = self._rows.validate_python([items[i] for i in positions])
        return self._answerable(ValidBatch(rows, positions, len(bad), errors, count))

    def _answerable(self, checked: ValidBatch) -> ValidBatch:
        if checked.rows_refused and (not self.skip_bad_rows or not checked.rows):
            raise SummarisedValidationError(
                checked.errors, checked.error_count, checked.rows_refused
            )
        return checked

    def _rows_one_by_one(self, items: list[Any]) -> ValidBatch:
        rows: list[BaseModel] = []
        positions: list[int] = []
        errors: list[dict[str, Any]] = []
        refused = count = 0
        for position, item in enumerate(items):
            try:
                rows.append(self._row.validate_python(item))
                positions.append(position)
            except ValidationError as exc:
                refused += 1
                count += exc.error_count()
                if len(errors) < MAX_ERRORS:
                    listed = listed_errors(exc, ("body", position))
                    errors += listed[: MAX_ERRORS - len(errors)]
        return ValidBatch(rows, positions, refused, errors, count)


def _items(body: bytes) -> Any:
    """The parsed JSON body, or None when it is not JSON."""
    try:
        return pydantic_core.from_json(body)
    except ValueError:
        return None
