"""One pure-ASGI middleware for what every request needs: an id, a start time, a body-size
limit and metrics.

Pure ASGI (not ``BaseHTTPMiddleware``) because it runs on every request. The body limit is
checked here on ``Content-Length`` (the server never reads past it) and, for chunked bodies,
by counting what ``receive`` returns — one cheap layer instead of the framework's nested ones.
"""

from __future__ import annotations

import itertools
import os
import re
import uuid
from time import perf_counter

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from churnops.serving.metrics import ServingMetrics

REQUEST_ID = "churnops.request_id"
STARTED = "churnops.started"
HEADER = b"x-request-id"
CONTENT_LENGTH = b"content-length"
VALID_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestIds:
    """Unique ids without a random draw per request: a random per-process prefix + a counter."""

    def __init__(self) -> None:
        self._pid = -1
        self._prefix = ""
        self._counter = itertools.count(1)

    def new(self) -> str:
        if os.getpid() != self._pid:  # first use in this (possibly forked) process
            self._pid = os.getpid()
            self._prefix = uuid.uuid4().hex[:16]
            self._counter = itertools.count(1)
        return f"{self._prefix}-{next(self._counter):x}"


def too_large(limit: int) -> str:
    return (
        f"request body too large: the limit is {limit:,} bytes "
        "(send fewer rows per batch, or raise CHURNOPS_MAX_BODY_BYTES)"
    )


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: ServingMetrics, max_body: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body
        self.ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        rid: str | None = None
        length: bytes | None = None
        for name, value in scope["headers"]:
            if name == HEADER and VALID_ID.fullmatch(value):
                rid = value.decode("ascii")
            elif name == CONTENT_LENGTH:
                length = value
        if rid is None:
            rid = self.ids.new()
        scope[REQUEST_ID] = rid
        scope[STARTED] = started
        header = (HEADER, rid.encode("ascii"))
        response_status = 500  # if the app raises before answering, the server answers 500

        async def send_with_id(message: Message) -> None:
            nonlocal response_status
            if message["type"] == "http.response.start":
                response_status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            if length is None:
                await self.app(scope, self._limited(receive), send_with_id)
            elif not length.isdigit() or int(length) > self.max_body:
                await self._refuse(send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", "unmatched")
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            seconds = perf_counter() - started
            self.metrics.observe_request(method, endpoint, response_status, seconds)

    def _limited(self, receive: Receive) -> Receive:
        """``receive`` for a body of unknown length: refuses it past the limit."""
        received = 0
        limit = self.max_body

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, too_large(limit))
            return message

        return receive_limited

    async def _refuse(self, send: Send) -> None:
        body = b'{"detail":"' + too_large(self.max_body).encode("ascii") + b'"}'
        await send(
            {
                "type": "http.response.start",
                "status": status.HTTP_413_CONTENT_TOO_LARGE,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode("ascii")),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
