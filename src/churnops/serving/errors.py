"""The 422 answer: FastAPI's ``{"detail": [...]}`` format, small whatever the input.

FastAPI's default handler lists every error and echoes each offending input: a 30 KB batch of
empty rows gets a 4 MB answer, an 8 MB row a 50 MB one, all built on the event loop. Here the
answer shows the first ``MAX_ERRORS`` errors and ``error_count``, the total; an input is
echoed only when small (long strings are cut, large or nested objects left out) and only when
it is a field's value: never the body or a row as a whole, nor for a missing field (pydantic
gives the object it is missing from). The errors are summarised where validation ran (a worker
thread for batches), so the handler on the event loop only serialises a few small dicts.

Listing errors costs about a microsecond each, in one call that holds the GIL (so even in a
worker thread it stalls the event loop): past ``MAX_EXAMINED`` errors none is listed from that
validation, one entry says how many there are (a batch's rows are validated one by one when it
is bad, see ``inputs``, so this only happens for a single row with that many errors).

Inputs are also made JSON-safe: ``json.dumps`` raises on NaN or Infinity and ``orjson``
refuses integers beyond 64 bits — either would turn a bad request into a 500.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

import orjson
from fastapi import Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

INT64 = 2**63
MAX_ERRORS = 20
MAX_EXAMINED = 1_000
MAX_INPUT_CHARS = 100
MAX_INPUT_ITEMS = 10
TOO_LARGE = object()  # an input too large to echo


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as null and oversized integers as strings."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -INT64 <= value < INT64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return str(value)


def small_input(value: Any, nested: bool = False) -> Any:
    """A short copy of an offending input: long strings cut, an object or list kept only when
    it has few items and no nested ones (``TOO_LARGE`` otherwise). Bounded work, any size."""
    if isinstance(value, str):
        return value if len(value) <= MAX_INPUT_CHARS else value[:MAX_INPUT_CHARS] + "…"
    if isinstance(value, dict | list | tuple):
        if nested or len(value) > MAX_INPUT_ITEMS:
            return TOO_LARGE
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        items = {key: small_input(item, nested=True) for key, item in pairs}
        if any(item is TOO_LARGE for item in items.values()):
            return TOO_LARGE
        return items if isinstance(value, dict) else list(items.values())
    return value


def is_a_field_value(error: Mapping[str, Any]) -> bool:
    """Whether an error's input is a field's value, not the body or a row (``loc`` ending at
    ``"body"`` or a row's index) nor the object a missing field is missing from."""
    loc = error.get("loc", ())
    return len(loc) > 1 and isinstance(loc[-1], str) and error.get("type") != "missing"


def summarise(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The first ``MAX_ERRORS`` errors, JSON-safe, with their inputs shortened."""
    shown = []
    for error in islice(errors, MAX_ERRORS):
        entry = {key: value for key, value in error.items() if key != "input"}
        if "input" in error and is_a_field_value(error):
            value = small_input(error["input"])
            if value is not TOO_LARGE:
                entry["input"] = value
        shown.append(json_safe(entry))
    return shown


def listed_errors(
    exc: ValidationError, at: tuple[str | int, ...] = ("body",)
) -> list[dict[str, Any]]:
    """The first errors of a validation, ``loc`` prefixed with ``at`` (where the validated value
    is in the request), if there are not so many that listing them would stall the server;
    else one entry saying how many there are."""
    count = exc.error_count()
    if count > MAX_EXAMINED:
        return [
            {
                "type": "too_many_errors",
                "loc": list(at),
                "msg": f"{count:,} errors, too many to list: check the body against /docs",
            }
        ]
    errors = exc.errors(include_url=False)
    return summarise({**error, "loc": (*at, *error["loc"])} for error in errors)


class SummarisedValidationError(RequestValidationError):
    """Validation errors already cut to the ones shown; ``total`` counts them all, and
    ``rows_refused`` the rows of a batch with an error (None for a whole-body problem)."""

    def __init__(
        self, errors: list[dict[str, Any]], total: int, rows_refused: int | None = None
    ) -> None:
        super().__init__(errors)
        self.total = total
        self.rows_refused = rows_refused


async def validation_failed(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    answer: dict[str, Any]
    if isinstance(exc, SummarisedValidationError):
        answer = {"detail": list(exc.errors()), "error_count": exc.total}
        if exc.rows_refused is not None:
            answer["rows_refused"] = exc.rows_refused
    else:  # FastAPI's own validation (endpoints without a JsonBodyRoute)
        answer = {"detail": summarise(exc.errors()), "error_count": len(exc.errors())}
    body = orjson.dumps(answer)
    return Response(body, status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="application/json")
