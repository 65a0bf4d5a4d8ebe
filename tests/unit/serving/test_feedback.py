"""``POST /feedback``: token rules like admin, all-or-nothing recording, the right statuses."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SEED_BODY, serving_settings
from fastapi import Request
from fastapi.testclient import TestClient

from churnops.schema import CUSTOMER_ID_RULE, REQUEST_ID_RULE
from churnops.serving.app import create_app
from churnops.serving.security import TokenGuard
from churnops.settings import Settings

TOKEN = "feedback-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def stored(settings: Settings) -> list[tuple[str, str, int]]:
    """(request id, customer id, outcome) of every stored outcome."""
    with sqlite3.connect(settings.inference_db) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'outcomes'").fetchone():
            return []
        rows = conn.execute("SELECT request_id, customer_id, outcome FROM outcomes ORDER BY id")
        return [tuple(row) for row in rows]


def observed_times(settings: Settings) -> list[float]:
    with sqlite3.connect(settings.inference_db) as conn:
        return [row[0] for row in conn.execute("SELECT observed_at FROM outcomes ORDER BY id")]


def changes(settings: Settings) -> int:
    with sqlite3.connect(settings.inference_db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM outcome_changes").fetchone()[0])


def wait_logged(settings: Settings, rows: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(settings.inference_db) as conn:
            if conn.execute("SELECT COUNT(*) FROM inference_log").fetchone()[0] >= rows:
                return
        time.sleep(0.05)
    raise AssertionError("the predictions never reached the inference log")


@pytest.fixture
def feedback_settings(trained_home: Path) -> Settings:
    return serving_settings(trained_home, feedback_token=TOKEN)


@pytest.fixture
def api(feedback_settings: Settings) -> Iterator[TestClient]:
    """The API with two logged predictions: customers F1 and F2."""
    with TestClient(create_app(feedback_settings)) as client:
        for customer in ("F1", "F2"):
            assert client.post("/predict", json={**SEED_BODY, "customer_id": customer}).is_success
        wait_logged(feedback_settings, 2)
        yield client


def test_feedback_is_disabled_without_a_token(trained_home: Path, settings: Settings) -> None:
    """Without CHURNOPS_FEEDBACK_TOKEN: 403, whatever is sent, and nothing is stored."""
    with TestClient(create_app(settings)) as client:
        for headers in ({}, AUTH, {"X-Feedback-Token": TOKEN}):
            body = {"customer_id": "F1", "outcome": "yes"}
            response = client.post("/feedback", json=body, headers=headers)
            assert response.status_code == 403
            assert "CHURNOPS_FEEDBACK_TOKEN" in response.json()["detail"]
    assert stored(settings) == []


def test_a_missing_or_wrong_token_is_refused(api: TestClient, feedback_settings: Settings) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-Admin-Token": TOKEN}):
        response = api.post("/feedback", json={"customer_id": "F1", "outcome": 1}, headers=headers)
        assert response.status_code == 401
        assert "'X-Feedback-Token: <token>'" in response.json()["detail"]  # as the README says
    assert stored(feedback_settings) == []
    assert "churnops_feedback_auth_failures_total 3.0" in api.get("/metrics").text


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic dXNlcjpwYXNz", "X-Feedback-Token": TOKEN},
        {"Authorization": "Bearer nope", "X-Feedback-Token": TOKEN},
        {**AUTH, "X-Feedback-Token": "nope"},
    ],
)
def test_the_token_in_either_header_is_enough(api: TestClient, headers: dict[str, str]) -> None:
    """An Authorization header of another scheme (a proxy's credentials) or with another
    token does not hide the right token in X-Feedback-Token, nor the reverse."""
    body = {"customer_id": "F1", "outcome": 1}
    response = api.post("/feedback", json=body, headers=headers)
    assert response.status_code == 200, response.text


def test_outcomes_are_recorded_once_and_corrected(
    api: TestClient, feedback_settings: Settings
) -> None:
    """A single outcome, then a batch repeating it and adding one; then a correction."""
    single = api.post("/feedback", json={"customer_id": "F1", "outcome": "yes"}, headers=AUTH)
    assert single.status_code == 200
    assert single.json() == {"received": 1, "duplicates": 0, "new": 1, "changed": 0, "unchanged": 0}
    observed = time.time()
    batch = [
        {"customer_id": "F2", "outcome": False, "observed_at": observed},
        {"customer_id": "F2", "outcome": 0, "observed_at": observed},
    ]
    second = api.post("/feedback", json=batch, headers={"X-Feedback-Token": TOKEN})
    assert second.json() == {"received": 2, "duplicates": 1, "new": 1, "changed": 0, "unchanged": 0}
    fix = {"customer_id": "F2", "outcome": "yes", "observed_at": observed}
    assert api.post("/feedback", json=fix, headers=AUTH).json()["changed"] == 1
    assert stored(feedback_settings) == [("", "F1", 1), ("", "F2", 1)]


def test_the_same_outcome_sent_again_without_a_time_changes_nothing(
    api: TestClient, feedback_settings: Settings
) -> None:
    """Without observed_at the outcome is dated when received; a retry of it is no correction
    (the stored time stays, no change is recorded), but another outcome still is one."""
    body = {"customer_id": "F1", "outcome": "yes"}
    assert api.post("/feedback", json=body, headers=AUTH).json()["new"] == 1
    first = observed_times(feedback_settings)
    time.sleep(0.01)  # a later receipt time
    again = api.post("/feedback", json=body, headers=AUTH).json()
    assert again == {"received": 1, "duplicates": 0, "new": 0, "changed": 0, "unchanged": 1}
    assert observed_times(feedback_settings) == first
    assert changes(feedback_settings) == 0
    other = api.post("/feedback", json={**body, "outcome": "no"}, headers=AUTH).json()
    assert other["changed"] == 1 and changes(feedback_settings) == 1
    assert stored(feedback_settings) == [("", "F1", 0)]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"customer_id": True, "outcome": 1}, ["body", "customer_id"]),
        ([{"customer_id": 5.5, "outcome": 1}], ["body", 0, "customer_id"]),
        ([{"customer_id": "F1", "outcome": 1.5}], ["body", 0, "outcome"]),
        ([], ["body"]),
        ("F1", ["body"]),
    ],
)
def test_a_wrong_body_is_checked_in_the_form_it_takes(
    api: TestClient, body: object, where: list[object]
) -> None:
    """A single item is not also reported as a wrong list (nor a list as a wrong item), and
    the error's loc is where the value is in the body, with no internal tag of the form."""
    response = api.post("/feedback", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error_count"] == 1
    assert response.json()["detail"][0]["loc"] == where
    assert "FeedbackItem" not in response.text  # no internal name either


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("observed_at", [1], "date-time"),
        ("observed_at", {"at": 1}, "date-time"),
        ("observed_at", True, "date-time"),
        ("outcome", [1], "label"),
        ("outcome", None, "label"),
        ("outcome", 1.5, "1/true/yes (churned) or 0/false/no (stayed)"),
        ("outcome", {"yes": 1}, "1/true/yes (churned) or 0/false/no (stayed)"),
    ],
)
def test_a_value_of_a_wrong_type_is_one_error(
    api: TestClient, field: str, value: object, words: str
) -> None:
    """One wrong value is one error, not one per type the field could have been, at the
    field's own loc (not the type the field was read as) and saying what it accepts."""
    body = {"customer_id": "F1", "outcome": 1, field: value}
    response = api.post("/feedback", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error_count"] == 1, response.text
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", field]
    assert words in error["msg"]


def test_a_missing_field_does_not_echo_the_item(api: TestClient) -> None:
    """pydantic gives a missing field's error the item it is missing from: not echoed."""
    for body, where in (({"customer_id": "F1"}, ["body"]), ([{"customer_id": "F1"}], ["body", 0])):
        detail = api.post("/feedback", json=body, headers=AUTH).json()["detail"]
        assert detail == [{"type": "missing", "loc": [*where, "outcome"], "msg": "Field required"}]


def test_a_request_id_names_the_prediction(api: TestClient, feedback_settings: Settings) -> None:
    answer = api.post("/predict", json={**SEED_BODY, "customer_id": "F3"}).json()
    wait_logged(feedback_settings, 3)
    body = {"request_id": answer["request_id"], "outcome": "no"}
    assert api.post("/feedback", json=body, headers=AUTH).status_code == 200
    assert stored(feedback_settings) == [(answer["request_id"], "", 0)]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"customer_id": "F1", "outcome": "maybe"}, 422, "item 0: outcome 'maybe'"),
        ([{"customer_id": "F1", "outcome": 1}, {"outcome": 1}], 422, "item 1: neither"),
        (
            [{"customer_id": "F1", "outcome": 1}, {"customer_id": "F1", "outcome": 0}],
            422,
            "item 1: customer F1 stayed",
        ),
        ({"customer_id": "F1", "outcome": 1, "observed_at": "2999-01-01"}, 422, "future"),
        ([{"customer_id": "F1", "outcome": 1}, {"customer_id": "NOPE", "outcome": 1}], 404, "NOPE"),
        ({"request_id": "never-answered", "outcome": 1}, 404, "request never-answered"),
        ({"customer_id": "F1", "outcome": 1, "extra": 2}, 422, "extra"),
        ({"customer_id": "F 1", "outcome": 1}, 422, CUSTOMER_ID_RULE),
        ({"request_id": "r 1", "outcome": 1}, 422, REQUEST_ID_RULE),
        ([], 422, "at least 1"),
        ([{"customer_id": "F1", "outcome": 1}] * 1_001, 422, "at most 1000"),
    ],
)
def test_a_wrong_call_records_nothing(
    api: TestClient, feedback_settings: Settings, body: object, status: int, words: str
) -> None:
    response = api.post("/feedback", json=body, headers=AUTH)
    assert response.status_code == status, response.text
    assert words in response.text
    assert stored(feedback_settings) == []


def test_bad_ids_are_told_in_words_without_echoing_them_whole(
    api: TestClient, feedback_settings: Settings
) -> None:
    """Each bad id is one error saying what an id may hold (not a regular expression); a long
    one is shown cut, so the answer stays small."""
    long = "x" * 30_000
    body = [{"customer_id": long, "outcome": 1}, {"request_id": f"r {long}", "outcome": 1}]
    response = api.post("/feedback", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert len(response.content) < 2_000
    customer, request = response.json()["detail"]
    assert customer["loc"] == ["body", 0, "customer_id"]
    assert customer["msg"].startswith(f"Input should be a customer id: text of {CUSTOMER_ID_RULE};")
    assert request["loc"] == ["body", 1, "request_id"]
    assert request["msg"] == f"Input should be a request id: {REQUEST_ID_RULE}"
    assert "[A-Za-z" not in response.text
    assert stored(feedback_settings) == []


def test_a_request_and_its_customer_that_disagree_record_nothing(
    api: TestClient, feedback_settings: Settings
) -> None:
    """Items without a time are observed at the same moment: by request id and by its
    customer with different outcomes, neither is taken (whichever came first would be)."""
    answer = api.post("/predict", json={**SEED_BODY, "customer_id": "F3"}).json()
    wait_logged(feedback_settings, 3)
    body = [
        {"request_id": answer["request_id"], "customer_id": "F3", "outcome": 1},
        {"customer_id": "F1", "outcome": 0},
        {"customer_id": "F3", "outcome": 0},
    ]
    response = api.post("/feedback", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("item 2: customer F3 stayed"), detail
    assert f"item 0 (request {answer['request_id']} / customer F3) says churned" in detail
    assert stored(feedback_settings) == []


def test_wrong_tokens_close_feedback_for_a_while(api: TestClient) -> None:
    """After ten wrong tokens within a minute: 429 with Retry-After, even for the right one."""
    body = {"customer_id": "F1", "outcome": 1}
    for attempt in range(10):
        headers = {"X-Feedback-Token": f"guess-{attempt}"}
        assert api.post("/feedback", json=body, headers=headers).status_code == 401
    throttled = api.post("/feedback", json=body, headers=AUTH)
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["retry-after"]) <= 60


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_body_not_sent_as_json_is_415(
    api: TestClient, feedback_settings: Settings, content_type: str
) -> None:
    """Like /predict: 415 and what to send, not a 422 about the body's bytes."""
    body = b'{"customer_id": "F1", "outcome": 1}'
    headers = {"Content-Type": content_type}
    assert api.post("/feedback", content=body, headers=headers).status_code == 401  # token first
    headers.update(AUTH)
    response = api.post("/feedback", content=body, headers=headers)
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["detail"]
    assert stored(feedback_settings) == []


@pytest.mark.parametrize(("body", "status"), [(b"{not json", 422), (b"\xff\xfe{", 400)])
def test_the_token_is_checked_before_the_body_is_read(
    api: TestClient, body: bytes, status: int
) -> None:
    """Without the token a body that is not JSON (or not UTF-8) gets the 401, not an answer
    about the body: a caller learns the body's format only with the token."""
    headers = {"Content-Type": "application/json"}
    for wrong in ({}, {"Authorization": "Bearer nope"}):
        response = api.post("/feedback", content=body, headers={**headers, **wrong})
        assert response.status_code == 401, response.text
    response = api.post("/feedback", content=body, headers={**headers, **AUTH})
    assert response.status_code == status, response.text


def test_the_token_is_checked_before_the_body_size(trained_home: Path) -> None:
    """A body declared larger than CHURNOPS_MAX_BODY_BYTES gets the token's answer first (403
    while feedback is closed, 401 for a wrong token, 429 once those are too many): only a caller
    with the token learns the limit (413), and nothing is recorded."""
    big = b'{"customer_id": "F1", "outcome": 1, "x": "' + b"x" * 2_000 + b'"}'
    json_type = {"Content-Type": "application/json"}
    closed = serving_settings(trained_home, max_body_bytes=1_024)
    with TestClient(create_app(closed)) as client:
        response = client.post("/feedback", content=big, headers={**json_type, **AUTH})
        assert response.status_code == 403, response.text
    settings = serving_settings(trained_home, feedback_token=TOKEN, max_body_bytes=1_024)
    with TestClient(create_app(settings)) as client:
        for wrong in ({}, {"Authorization": "Bearer nope"}):
            response = client.post("/feedback", content=big, headers={**json_type, **wrong})
            assert response.status_code == 401, response.text
            assert response.headers["connection"] == "close"  # its body is not read
        response = client.post("/feedback", content=big, headers={**json_type, **AUTH})
        assert response.status_code == 413, response.text
        assert "1,024 bytes" in response.json()["detail"]
        assert response.headers["connection"] == "close"
        for _ in range(10):
            client.post("/feedback", content=big, headers={**json_type, "X-Feedback-Token": "x"})
        response = client.post("/feedback", content=big, headers={**json_type, **AUTH})
        assert response.status_code == 429, response.text
    assert stored(settings) == []


def test_the_token_is_checked_once_per_request(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard runs before the body is read, and not a second time with the endpoint's
    dependencies."""
    paths: list[str] = []
    check = TokenGuard.__call__

    async def counted(guard: TokenGuard, request: Request) -> None:
        paths.append(request.url.path)
        await check(guard, request)

    monkeypatch.setattr(TokenGuard, "__call__", counted)
    response = api.post("/feedback", json={"customer_id": "F1", "outcome": 1}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert paths == ["/feedback"]


def test_ids_are_read_like_predict_reads_them(api: TestClient, feedback_settings: Settings) -> None:
    """/predict logs " F1 " as F1: an outcome for " F1 " labels that prediction."""
    body = {"customer_id": " F1 ", "outcome": 1}
    response = api.post("/feedback", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    assert stored(feedback_settings) == [("", "F1", 1)]


def test_a_numeric_customer_id_is_the_same_customer_everywhere(
    api: TestClient, feedback_settings: Settings
) -> None:
    """/predict and /predict/batch take the JSON integer 42 as the id "42", and so does
    /feedback: its outcome labels that prediction (an unmatched id would be a 404)."""
    answer = api.post("/predict", json={**SEED_BODY, "customer_id": 42})
    assert answer.status_code == 200, answer.text
    assert answer.json()["customer_id"] == "42"
    wait_logged(feedback_settings, 3)
    batch = api.post("/predict/batch", json=[{**SEED_BODY, "customer_id": 43.0}])
    assert batch.json()["predictions"][0]["customer_id"] == "43"
    response = api.post("/feedback", json={"customer_id": 42, "outcome": 1}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert stored(feedback_settings) == [("", "42", 1)]


def test_a_long_import_elsewhere_is_a_prompt_503_with_retry_after(
    api: TestClient, feedback_settings: Settings
) -> None:
    """While another writer (a long `churnops labels import`) holds the store, a call is told
    to come back in a few seconds instead of holding a worker thread for half a minute."""
    holder = sqlite3.connect(feedback_settings.inference_db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        response = api.post("/feedback", json={"customer_id": "F1", "outcome": 1}, headers=AUTH)
        waited = time.monotonic() - started
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    assert response.status_code == 503, response.text
    assert waited < 10
    assert 0 < int(response.headers["retry-after"]) <= 60
    assert "locked by another writer" in response.json()["detail"]
    assert stored(feedback_settings) == []
    assert api.post("/feedback", json={"customer_id": "F1", "outcome": 1}, headers=AUTH).is_success


def test_the_docs_describe_the_body(api: TestClient) -> None:
    """The body's schema in /openapi.json: one outcome or a list, each field's JSON types."""
    document = api.get("/openapi.json").json()
    body = document["paths"]["/feedback"]["post"]["requestBody"]["content"]["application/json"]
    forms = body["schema"]["anyOf"]
    assert forms[0] == {"$ref": "#/components/schemas/FeedbackItem"}
    assert forms[1]["type"] == "array" and forms[1]["maxItems"] == 1_000
    item = document["components"]["schemas"]["FeedbackItem"]["properties"]
    assert item["outcome"]["anyOf"] == [{"type": t} for t in ("boolean", "integer", "string")]
    observed = [form["type"] for form in item["observed_at"]["anyOf"]]
    assert observed == ["string", "integer", "number", "null"]
