"""``JsonBodyRoute``: a FastAPI route class for the hot endpoints, ``f(request, body)``.

FastAPI's generic handler parses JSON with ``json.loads``, inspects the content type with the
``email`` package and solves a dependency graph on every request, then validates the Python
objects again. For the prediction endpoints that is most of the request's cost. This route
class keeps FastAPI for everything else — errors still go through FastAPI's handlers and look
the same (422 ``{"detail": [...]}``) — but at run time it only checks the content type, reads
the raw bytes and hands them to the endpoint, which validates them in one pass with
pydantic-core's JSON parser against the request model of the model serving (see ``inputs``).
A plain ``def`` endpoint runs in the thread pool so large bodies never stall the event loop
(the single-row endpoint, an ``async def`` of microseconds, takes small bodies only: see
``routes_predict``).

The body parameter is declared ``body: JsonBody``, a dependency FastAPI would resolve the same
way, so the endpoint also works on a plain ``APIRoute``; its OpenAPI request body comes from
``openapi``, which follows the model serving.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

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


JsonBody = Annotated[bytes, Depends(json_body)]


class JsonBodyRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        endpoint = self.endpoint
        if list(inspect.signature(endpoint).parameters) != ["request", "body"]:
            raise TypeError(f"{endpoint.__name__} must take (request: Request, body: JsonBody)")

        if inspect.iscoroutinefunction(endpoint):

            async def run_async(request: Request) -> Response:
                response: Response = await endpoint(request, await json_body(request))
                return response

            return run_async

        async def run_in_thread(request: Request) -> Response:
            body = await json_body(request)
            response: Response = await run_in_threadpool(endpoint, request, body)
            return response

        return run_in_thread
