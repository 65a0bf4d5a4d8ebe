"""The 422 answer: FastAPI's ``{"detail": [...]}`` format, built so that no input can break it.

FastAPI's default handler echoes each offending input through ``json.dumps``, which raises on
NaN or Infinity, and ``orjson`` refuses integers beyond 64 bits — either would turn a bad
request into a 500. Inputs are made JSON-safe first, and whole-body inputs are not echoed
(a refused batch can be megabytes).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from fastapi import Request, Response, status
from fastapi.exceptions import RequestValidationError

INT64 = 2**63


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


async def validation_failed(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        shown = dict(error)
        if len(shown.get("loc", ())) <= 1:  # the whole body
            shown.pop("input", None)
        errors.append(json_safe(shown))
    body = orjson.dumps({"detail": errors})
    return Response(body, status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="application/json")
