"""``JsonBodyRoute``: a FastAPI route class for the hot endpoints, ``f(body, request)``.

FastAPI's generic handler parses JSON with ``json.loads``, inspects the content type with the
``email`` package and solves a dependency graph on every request, then validates the Python
objects again. For the prediction endpoints that is most of the request's cost. This route
class keeps FastAPI for everything else — the OpenAPI document is still generated from the
endpoint's signature, errors still go through FastAPI's handlers and look the same (422
``{"detail": [...]}``) — but at run time it validates the raw bytes in one pass with
pydantic-core's JSON parser, and runs a plain ``def`` endpoint (validation included) in the
thread pool so large bodies never stall the event loop (the single-row endpoint, an ``async
def`` of microseconds, takes small bodies only: see ``routes_predict``).

For a list body, a second adapter stops at the first invalid item: when a batch has too many
errors to list cheaply (``errors.MAX_EXAMINED``), it finds the first ones.

Validation is one call into pydantic-core that holds the GIL throughout (tens of milliseconds
for 10,000 rows), so threads validating at the same time do not run in parallel: they take
turns, and the event loop waits for each turn. The thread-pool endpoints of a route therefore
validate one body at a time: the loop then waits for one validation at most, and throughput is
the same (ONNX Runtime, which releases the GIL, still runs alongside).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from fastapi import HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from pydantic import Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from churnops.serving.errors import MAX_EXAMINED, SummarisedValidationError, listed_errors

CONTENT_TYPE = b"content-type"
NOT_JSON = "send the body as JSON with the header 'Content-Type: application/json'"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


async def json_body(request: Request) -> bytes:
    """The raw body, after checking it is declared as JSON (415 otherwise)."""
    for name, value in request.scope["headers"]:
        if name == CONTENT_TYPE:
            if is_json(value):
                return await request.body()
            break
    raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, NOT_JSON)


def validate(adapter: TypeAdapter[Any], first_errors: TypeAdapter[Any] | None, body: bytes) -> Any:
    """Parse and validate in one step; errors become FastAPI's usual 422 (``loc`` from body),
    summarised here rather than on the event loop."""
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        found = exc
    total = found.error_count()
    if total > MAX_EXAMINED and first_errors is not None:
        try:
            first_errors.validate_json(body)
        except ValidationError as exc:
            found = exc
    raise SummarisedValidationError(listed_errors(found), total)


def fail_fast_twin(annotation: Any) -> TypeAdapter[Any] | None:
    """For ``Annotated[list[...], ...]``, an adapter stopping at the first invalid item."""
    if get_origin(annotation) is Annotated and get_origin(get_args(annotation)[0]) is list:
        return TypeAdapter(Annotated[annotation, Field(fail_fast=True)])
    return None


class JsonBodyRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        endpoint = self.endpoint
        names = list(inspect.signature(endpoint).parameters)
        hints = get_type_hints(endpoint, include_extras=True)
        if len(names) != 2 or hints.get(names[1]) is not Request:
            raise TypeError(f"{endpoint.__name__} must take (body, request: Request)")
        adapter: TypeAdapter[Any] = TypeAdapter(hints[names[0]])
        first_errors = fail_fast_twin(hints[names[0]])

        if inspect.iscoroutinefunction(endpoint):

            async def run_async(request: Request) -> Response:
                body = await json_body(request)
                response: Response = await endpoint(validate(adapter, first_errors, body), request)
                return response

            return run_async

        one_at_a_time = threading.Lock()

        def run_sync(request: Request, body: bytes) -> Response:
            with one_at_a_time:  # see the module docstring
                valid = validate(adapter, first_errors, body)
            response: Response = endpoint(valid, request)
            return response

        async def run_in_thread(request: Request) -> Response:
            body = await json_body(request)
            return await run_in_threadpool(run_sync, request, body)

        return run_in_thread
