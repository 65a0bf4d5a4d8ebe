"""One pure-ASGI middleware for what every request needs: an id, a start time, a body-size
limit and metrics.

Pure ASGI (not ``BaseHTTPMiddleware``) because it runs on every request. The body limit is
checked here on ``Content-Length`` (the server never reads past it) and, for chunked bodies,
by counting what ``receive`` returns — one cheap layer instead of the framework's nested ones.
A path can have a lower limit of its own (the single-row endpoint: validating a body holds the
GIL for a time that grows with its size, so no endpoint should take more than it needs).
A token-protected path (``token_paths``) is not refused here: a declared length over the limit
is marked in the scope (``TOO_LARGE``), and the route refuses it after the token check
(``security.token_first``), so a caller without the token gets the 401, not the 413 — the body
is read in neither case.

A client that goes away before its body arrived (``ClientDisconnect``) is not a server error:
it is counted with status 499 (nginx's "client closed request"), which the 5xx alert ignores,
and logged as one line, without a traceback.

A start-up that fails on a user's error (a ``ChurnopsError``: an inference log that cannot be
opened) is reported in that error's one line:
uvicorn logs a failed start-up's message, which Starlette fills with the whole traceback.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import uuid
from collections.abc import Mapping
from time import perf_counter

from fastapi import HTTPException, status
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from churnops.errors import ChurnopsError
from churnops.schema import REQUEST_ID_PATTERN
from churnops.serving.metrics import ServingMetrics
from churnops.serving.security import TOO_LARGE
from churnops.serving.throttled_log import ThrottledLog

logger = logging.getLogger("churnops.serving")

REQUEST_ID = "churnops.request_id"
STARTED = "churnops.started"
HEADER = b"x-request-id"
CONTENT_LENGTH = b"content-length"
VALID_ID = re.compile(REQUEST_ID_PATTERN.strip("^$").encode("ascii"))
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CLIENT_CLOSED_REQUEST = 499


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


def too_large(limit: int, advice: str) -> str:
    return f"request body too large: the limit is {limit:,} bytes ({advice})"


BATCH_ADVICE = "send fewer rows per batch, or raise CHURNOPS_MAX_BODY_BYTES"


def one_line_startup_failure(send: Send) -> Send:
    """``send`` for the lifespan, with a failed start-up's traceback replaced by the error's
    one line when it is a ``ChurnopsError``. Starlette sends that message while it handles the
    exception (and raises it again after), so the exception being handled is the cause."""

    async def send_one_line(message: Message) -> None:
        error = sys.exception()
        if message["type"] == "lifespan.startup.failed" and isinstance(error, ChurnopsError):
            message = {**message, "message": str(error)}
        await send(message)

    return send_one_line


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: ServingMetrics,
        max_body: int,
        path_limits: Mapping[str, tuple[int, str]],
        token_paths: frozenset[str] = frozenset(),
    ) -> None:
        """``path_limits``: path → (its lower body limit, advice for a client over it);
        ``token_paths``: the paths whose token is checked before their body's size."""
        self.app = app
        self.metrics = metrics
        self.max_body = max_body
        self.limits = {
            path: (min(limit, max_body), too_large(min(limit, max_body), advice))
            for path, (limit, advice) in path_limits.items()
        }
        self.default_limit = (max_body, too_large(max_body, BATCH_ADVICE))
        self.token_paths = token_paths
        self.ids = RequestIds()
        self.disconnects = ThrottledLog(logger, logging.INFO)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            lifespan = scope["type"] == "lifespan"
            await self.app(scope, receive, one_line_startup_failure(send) if lifespan else send)
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

        path = scope["path"]
        limit, refusal = self.limits.get(path, self.default_limit)
        try:
            if length is None:
                await self.app(scope, self._limited(receive, limit, refusal), send_with_id)
            elif not length.isdigit() or int(length) > limit:
                if path in self.token_paths:
                    scope[TOO_LARGE] = refusal
                    await self.app(scope, receive, send_with_id)
                else:
                    await self._refuse(send_with_id, refusal)
            else:
                await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            response_status = CLIENT_CLOSED_REQUEST
        finally:
            endpoint = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            seconds = perf_counter() - started
            self.metrics.observe_request(method, endpoint, response_status, seconds)
            if response_status == CLIENT_CLOSED_REQUEST:
                self.disconnects.event(
                    "%s %s: the client went away before sending its whole request (%s)",
                    method,
                    endpoint,
                    rid,
                )

    def _limited(self, receive: Receive, limit: int, refusal: str) -> Receive:
        """``receive`` for a body of unknown length: refuses it past the limit."""
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, refusal)
            return message

        return receive_limited

    async def _refuse(self, send: Send, refusal: str) -> None:
        body = b'{"detail":"' + refusal.encode("ascii") + b'"}'
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
