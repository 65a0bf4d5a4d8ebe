"""Tokens for the protected endpoints: admin endpoints are closed (403) unless
``CHURNOPS_ADMIN_TOKEN`` is set, ``POST /feedback`` unless ``CHURNOPS_FEEDBACK_TOKEN`` is (each at
least 16 characters, checked by the settings), and then need that token (``Authorization:
Bearer …``, or the area's own header: ``X-Admin-Token`` / ``X-Feedback-Token``; the right one
in either is enough, whatever the other holds: a proxy's ``Authorization: Basic …`` does not
hide the area's header), compared in constant time so response timing tells an attacker
nothing about how much of a guess matched.

Wrong or missing tokens are counted per area (``churnops_admin_auth_failures_total``…) and
logged. After ``MAX_FAILURES`` of them within ``WINDOW_S`` seconds, every request of that area
is answered 429 — without looking at its token — until the oldest of those failures is older
than the window: guessing runs at a few tries a minute, and no request is held open to slow it
down (held requests would keep connections from other clients). The right token is refused
meanwhile too; the registry poll keeps doing what ``/admin/reload`` does, only later.

FastAPI reads and decodes a JSON body before it runs any dependency (a 422 for a body that is
not JSON, a 400 for one that is not UTF-8), so a protected endpoint takes its guard as
``route_class_override=token_first(guard)`` rather than among its dependencies: the guard runs
once, before the body is read, and a caller without the token learns nothing about the body's
format or size (the body-size middleware leaves the 413 of such a route to it, after the token).
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from collections import deque

from fastapi import HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from pydantic import SecretStr

from churnops.serving.json_route import Handler
from churnops.serving.throttled_log import ThrottledLog
from churnops.settings import env_name

logger = logging.getLogger("churnops.serving")

MAX_FAILURES = 10
TOO_LARGE = "churnops.too_large"  # scope key: the body-size middleware's 413, left to the route
CLOSE = {"Connection": "close"}
WINDOW_S = 60.0


def token_matches(given: str, expected: SecretStr) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.get_secret_value().encode("utf-8"))


def presented_tokens(request: Request, header: str = "x-admin-token") -> list[str]:
    """The tokens a request presents: an ``Authorization: Bearer`` one and the area's
    ``header`` (another ``Authorization`` scheme presents none)."""
    tokens = []
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            tokens.append(value.strip())
    own = request.headers.get(header)
    if own is not None:
        tokens.append(own)
    return tokens


class TokenGuard:
    """A FastAPI dependency enforcing the token of one ``area`` (``admin``, ``feedback``),
    configured when the app was built."""

    def __init__(
        self,
        expected: SecretStr | None,
        area: str,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_S,
    ) -> None:
        self.expected = expected
        self.area = area
        self.header = f"x-{area}-token"
        self.variable = env_name(f"{area}_token")  # the variable holding the token
        self.max_failures = max_failures
        self.window = window
        self.failures = 0
        self._recent: deque[float] = deque()  # times of the failures within the window
        self._log = ThrottledLog(logger)

    async def __call__(self, request: Request) -> None:
        area = self.area
        if self.expected is None:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"{area} endpoints are disabled: start the API with {self.variable} set",
            )
        wait = self.blocked_for()
        if wait > 0:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"too many wrong {area} tokens: {area} endpoints are closed for {wait:.0f} s",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        given = presented_tokens(request, self.header)
        if not any(token_matches(token, self.expected) for token in given):
            self._failed(request)
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"missing or wrong {area} token: send 'Authorization: Bearer <token>' or "
                f"'X-{area.title()}-Token: <token>'",  # as the documentation spells it
                headers={"WWW-Authenticate": "Bearer"},
            )

    def blocked_for(self) -> float:
        """Seconds until admin requests are checked again (0: they are now)."""
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= self.window:
            self._recent.popleft()
        if len(self._recent) < self.max_failures:
            return 0.0
        return self._recent[0] + self.window - now

    def _failed(self, request: Request) -> None:
        self.failures += 1
        self._recent.append(time.monotonic())
        client = request.client.host if request.client else "an unknown address"
        self._log.event(
            "wrong or missing %s token from %s (%d failure(s) in total)",
            self.area,
            client,
            self.failures,
        )


class AdminGuard(TokenGuard):
    """The admin endpoints' token (``CHURNOPS_ADMIN_TOKEN``)."""

    def __init__(
        self, expected: SecretStr | None, max_failures: int = MAX_FAILURES, window: float = WINDOW_S
    ) -> None:
        super().__init__(expected, "admin", max_failures, window)


class TokenFirstRoute(APIRoute):
    """A route whose token is checked before anything else about the request: its body's
    format and its size (``TOO_LARGE``). Made by ``token_first``."""

    guard: TokenGuard

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        guard = self.guard

        async def guarded(request: Request) -> Response:
            refusal = request.scope.get(TOO_LARGE)
            if refusal is None:
                await guard(request)
                return await handler(request)
            # a body declared too large is never read: whatever the answer, the connection closes
            try:
                await guard(request)
            except HTTPException as exc:
                exc.headers = {**(exc.headers or {}), **CLOSE}
                raise
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, refusal, headers=CLOSE)

        return guarded


def token_first(guard: TokenGuard) -> type[TokenFirstRoute]:
    """A route class running ``guard`` before FastAPI reads the body; the route is declared
    with it instead of with the guard among its dependencies, so the guard runs once."""
    return type(f"TokenFirst{guard.area.title()}Route", (TokenFirstRoute,), {"guard": guard})
