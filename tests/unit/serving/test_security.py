"""Admin endpoints: closed without a configured token, constant-time token check with one."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN, serving_settings
from fastapi.testclient import TestClient
from pydantic import SecretStr

from churnops.serving.app import create_app
from churnops.serving.security import token_matches
from churnops.settings import Settings


def test_token_comparison() -> None:
    """Only the exact token matches (including non-ASCII and length differences)."""
    expected = SecretStr("tökén")
    assert token_matches("tökén", expected)
    for guess in ("", "tökén ", "töké", "TÖKÉN", "x" * 100):
        assert not token_matches(guess, expected)


def test_admin_is_disabled_without_a_token(trained_home: Path, settings: Settings) -> None:
    """Without CHURNOPS_ADMIN_TOKEN the admin endpoint answers 403, whatever is sent."""
    open_settings = settings.model_copy(update={"admin_token": None})
    with TestClient(create_app(open_settings)) as client:
        for headers in ({}, {"Authorization": "Bearer "}, {"X-Admin-Token": "anything"}):
            response = client.post("/admin/reload", headers=headers)
            assert response.status_code == 403
            assert "CHURNOPS_ADMIN_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic {token}"}]
)
def test_admin_refuses_a_wrong_token(
    client: TestClient, settings: Settings, headers: dict[str, str]
) -> None:
    """A missing or wrong token (or the right one in the wrong scheme) is a 401."""
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    sent = {key: value.format(token=token) for key, value in headers.items()}
    response = client.post("/admin/reload", headers=sent)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    detail = response.json()["detail"]  # says both ways to send the token
    assert "Authorization: Bearer <token>" in detail and "X-Admin-Token: <token>" in detail


@pytest.mark.parametrize(
    "headers", [{"Authorization": "Bearer {token}"}, {"X-Admin-Token": "{token}"}]
)
def test_admin_accepts_the_token(
    client: TestClient, settings: Settings, headers: dict[str, str]
) -> None:
    """The right token, in either header, runs the reload check."""
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    sent = {key: value.format(token=token) for key, value in headers.items()}
    response = client.post("/admin/reload", headers=sent)
    assert response.status_code == 200
    assert response.json() == {
        "changed": False,
        "model_version": 1,
        "error": None,
        "experiment_id": None,
        "experiment_error": None,
    }


def test_wrong_tokens_are_counted_logged_and_then_refused_for_a_while(
    trained_home: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Each wrong token is counted in /metrics and logged; after ten within a minute, admin
    requests get 429 with Retry-After without their token being checked — even the right
    one — so guessing cannot run at request speed."""
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    with TestClient(create_app(settings)) as client:
        for attempt in range(10):
            wrong = client.post("/admin/reload", headers={"X-Admin-Token": f"guess-{attempt}"})
            assert wrong.status_code == 401
        for headers in ({"X-Admin-Token": "guess-10"}, {"Authorization": f"Bearer {token}"}):
            throttled = client.post("/admin/reload", headers=headers)
            assert throttled.status_code == 429
            assert 0 < int(throttled.headers["retry-after"]) <= 60
        metrics = client.get("/metrics").text
    assert "churnops_admin_auth_failures_total 10.0" in metrics
    assert "wrong or missing admin token from testclient" in caplog.text


def test_the_right_token_still_works_after_a_few_typos(
    client: TestClient, settings: Settings
) -> None:
    """A few wrong tokens do not lock the admin out."""
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    for _ in range(3):
        assert client.post("/admin/reload", headers={"X-Admin-Token": "typo"}).status_code == 401
    assert client.post("/admin/reload", headers={"X-Admin-Token": token}).status_code == 200


def test_admin_checks_the_token_before_the_body_size(trained_home: Path) -> None:
    """A body declared larger than CHURNOPS_MAX_BODY_BYTES gets the token's answer first: 403
    while admin is closed, 401 for a wrong token; the 413 only with the right one."""
    big = b"x" * 2_000
    closed = serving_settings(trained_home, admin_token=None, max_body_bytes=1_024)
    with TestClient(create_app(closed)) as client:
        assert client.post("/admin/reload", content=big).status_code == 403
    with TestClient(create_app(serving_settings(trained_home, max_body_bytes=1_024))) as client:
        for wrong in ({}, {"X-Admin-Token": "wrong"}):
            assert client.post("/admin/reload", content=big, headers=wrong).status_code == 401
        response = client.post("/admin/reload", content=big, headers={"X-Admin-Token": ADMIN_TOKEN})
        assert response.status_code == 413 and "1,024 bytes" in response.json()["detail"]
        response = client.post("/admin/reload", headers={"X-Admin-Token": ADMIN_TOKEN})
        assert response.status_code == 200
