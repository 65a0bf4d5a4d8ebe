"""The admin token: admin endpoints are closed (403) unless ``CHURNOPS_ADMIN_TOKEN`` is set,
and then need that token (``Authorization: Bearer …`` or ``X-Admin-Token``), compared in
constant time so response timing tells an attacker nothing about how much of a guess matched."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request, status
from pydantic import SecretStr


def token_matches(given: str, expected: SecretStr) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.get_secret_value().encode("utf-8"))


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    return request.headers.get("x-admin-token")


def admin_guard(expected: SecretStr | None) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency enforcing the token configured when the app was built."""

    async def require_admin(request: Request) -> None:
        if expected is None or not expected.get_secret_value():
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "admin endpoints are disabled: start the API with CHURNOPS_ADMIN_TOKEN set",
            )
        given = presented_token(request)
        if given is None or not token_matches(given, expected):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or wrong admin token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_admin
