"""The API in-process (FastAPI TestClient, real model, real SQLite log): every endpoint and
every class of bad input."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from api_support import ADMIN_TOKEN, SEED_BODY, add_second_version, api_settings
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from churnops import logstore
from churnops.registry.promotion import switch
from churnops.registry.store import Registry
from churnops.schema import CUSTOMER_ID_RULE, DEFAULT_SCHEMA
from churnops.serving.app import app_for, build_state, create_app
from churnops.serving.inference_log import LogLayout
from churnops.settings import Settings


@pytest.fixture
def settings(trained_home: Path) -> Settings:
    return api_settings(trained_home)


@pytest.fixture(scope="module")
def _two_version_template(
    _trained_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    home = tmp_path_factory.mktemp("endpoints") / "home"
    shutil.copytree(_trained_template, home)
    add_second_version(home)
    return home


@pytest.fixture
def two_version_home(_two_version_template: Path, tmp_path: Path) -> Settings:
    """v1 current (and polling slowed down: reloads happen on request), v2 registered."""
    home = tmp_path / "home"
    shutil.copytree(_two_version_template, home)
    return api_settings(home, poll_interval=3600)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def post_raw(client: TestClient, path: str, body: str | bytes, **headers: str) -> Any:
    return client.post(path, content=body, headers={"content-type": "application/json", **headers})


# ---- the happy path ----------------------------------------------------------------------------
def test_seed_example_answers(client: TestClient, settings: Settings) -> None:
    """The seed README's body gets a probability, a decision, the version and a request id."""
    response = client.post("/predict", json=SEED_BODY)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "request_id",
        "model_version",
        "churn_probability",
        "churn",
        "threshold",
        "customer_id",
    }
    assert body["model_version"] == 1 and 0 <= body["churn_probability"] <= 1
    assert body["churn"] == (body["churn_probability"] >= body["threshold"])
    assert response.headers["x-request-id"] == body["request_id"]


def test_answers_match_the_registered_model(client: TestClient, settings: Settings) -> None:
    """Single and batch answers equal the probabilities the registry recorded on the hold-out."""
    holdout = pd.read_parquet(Registry(settings).version_dir(1) / "holdout.parquet").head(300)
    rows = json.loads(holdout[DEFAULT_SCHEMA.feature_names].to_json(orient="records"))
    for row in rows:
        row["tenure"] = int(row["tenure"])
    batch = client.post("/predict/batch", json=rows).json()
    got = [item["churn_probability"] for item in batch["predictions"]]
    np.testing.assert_allclose(got, holdout["prediction"], atol=1e-5)
    single = [client.post("/predict", json=row).json()["churn_probability"] for row in rows[:20]]
    np.testing.assert_allclose(single, got[:20], atol=1e-7)


def test_client_request_id_is_kept_and_bad_ones_replaced(client: TestClient) -> None:
    """A sane X-Request-ID is echoed; an unsafe one is replaced by a fresh id."""
    kept = client.post("/predict", json=SEED_BODY, headers={"X-Request-ID": "order-42:7"})
    assert kept.headers["x-request-id"] == "order-42:7" == kept.json()["request_id"]
    replaced = client.post("/predict", json=SEED_BODY, headers={"X-Request-ID": "a b<script>"})
    assert replaced.headers["x-request-id"] not in ("", "a b<script>")
    ids = {client.post("/predict", json=SEED_BODY).json()["request_id"] for _ in range(50)}
    assert len(ids) == 50


def test_batch_keeps_order_and_customer_ids(client: TestClient) -> None:
    """Batch answers come in request order with each row's customer id."""
    rows = [{**SEED_BODY, "tenure": t, "customer_id": f"C{t:03d}"} for t in range(0, 72, 7)]
    body = client.post("/predict/batch", json=rows).json()
    assert body["count"] == len(rows)
    assert [item["customer_id"] for item in body["predictions"]] == [r["customer_id"] for r in rows]


def test_every_answer_is_logged(client: TestClient, settings: Settings) -> None:
    """Single and batch rows are all in the inference log once the app shuts down."""
    ids = [client.post("/predict", json={**SEED_BODY, "customer_id": f"S{i}"}) for i in range(5)]
    batch = client.post("/predict/batch", json=[{**SEED_BODY, "customer_id": "B1"}] * 7)
    client.__exit__(None, None, None)  # lifespan shutdown: the writer flushes
    log = logstore.read(settings.inference_db)
    assert len(log) == 12
    assert set(log["request_id"]) == {r.json()["request_id"] for r in [*ids, batch]}
    single = log[log["customer_id"] == "S0"].iloc[0]
    assert single["model_version"] == 1 and single["contract_type"] == "Month-to-month"
    assert single["probability"] == pytest.approx(ids[0].json()["churn_probability"])
    assert single["latency_ms"] > 0


def test_operations_endpoints(client: TestClient) -> None:
    """/, /model-info, health probes and /docs describe the running service."""
    root = client.get("/").json()
    assert root["model_version"] == 1 and root["docs"] == "/docs"
    info = client.get("/model-info").json()
    assert info["version"] == 1 and info["ready"] and len(info["onnx_sha256"]) == 64
    assert info["feature_schema"]["numeric"][0]["name"] == "tenure"
    assert info["metrics"]["roc_auc"] > 0.5 and info["last_reload_error"] is None
    # liveness says nothing of the model: it said "model_version": null while v1 served
    assert client.get("/health/live").json() == {"status": "alive"}
    assert client.get("/health/ready").json()["model_version"] == 1
    assert "swagger-ui" in client.get("/docs").text
    enum = client.get("/openapi.json").json()["components"]["schemas"]["CustomerFeatures"]
    assert enum["properties"]["contract_type"]["enum"] == list(
        DEFAULT_SCHEMA.categorical[0].categories
    )


def test_metrics_are_valid_prometheus_text(client: TestClient) -> None:
    """/metrics parses as Prometheus text and counts requests, predictions and log rows."""
    client.post("/predict", json=SEED_BODY)
    client.post("/predict/batch", json=[SEED_BODY] * 4)
    client.post("/predict", json={})
    text = client.get("/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    ok = (("endpoint", "/predict"), ("method", "POST"), ("status", "200"))
    assert samples[("churnops_http_requests_total", ok)] == 1
    bad = (("endpoint", "/predict"), ("method", "POST"), ("status", "422"))
    assert samples[("churnops_http_requests_total", bad)] == 1
    assert samples[("churnops_predictions_total", (("model_version", "1"),))] == 5
    assert samples[("churnops_prediction_probability_count", ())] == 5
    assert samples[("churnops_model_version", ())] == 1
    assert ("churnops_inference_log_queue_depth", ()) in samples


# ---- bad input: always a 4xx with a clear message ---------------------------------------------
BAD_SINGLE = [
    ("malformed JSON", '{"tenure": 12,', 422, "Invalid JSON"),
    ("empty body", "", 422, "Invalid JSON"),
    ("not an object", "[1, 2]", 422, "should be an object"),
    (
        "missing field",
        json.dumps({k: v for k, v in SEED_BODY.items() if k != "tenure"}),
        422,
        "Field required",
    ),
    ("wrong type", json.dumps({**SEED_BODY, "tenure": "twelve"}), 422, "should be a number"),
    ("boolean number", json.dumps({**SEED_BODY, "tenure": True}), 422, "not a boolean"),
    ("list for a number", json.dumps({**SEED_BODY, "tenure": [12]}), 422, "valid integer"),
    ("fractional months", json.dumps({**SEED_BODY, "tenure": 1.5}), 422, "fractional part"),
    ("NaN", json.dumps({**SEED_BODY, "monthly_charges": float("nan")}), 422, "finite number"),
    ("Infinity", json.dumps({**SEED_BODY, "total_charges": float("inf")}), 422, "finite number"),
    ("huge number", json.dumps({**SEED_BODY, "total_charges": 10**400}), 422, "valid number"),
    ("out of range", json.dumps({**SEED_BODY, "tenure": 500}), 422, "less than or equal to 72"),
    ("negative", json.dumps({**SEED_BODY, "monthly_charges": -5}), 422, "greater than or equal"),
    ("unknown category", json.dumps({**SEED_BODY, "contract_type": "Weekly"}), 422, "'One year'"),
    ("deep nesting", "[" * 30_000 + "]" * 30_000, 422, "Invalid JSON"),
    ("bad customer id", json.dumps({**SEED_BODY, "customer_id": "C 1"}), 422, CUSTOMER_ID_RULE),
    ("fractional id", json.dumps({**SEED_BODY, "customer_id": 4.5}), 422, "or a whole number"),
]


@pytest.mark.parametrize(
    ("body", "status", "message"), [c[1:] for c in BAD_SINGLE], ids=[c[0] for c in BAD_SINGLE]
)
def test_bad_single_rows_get_a_4xx(
    client: TestClient, body: str, status: int, message: str
) -> None:
    """Each class of bad input is refused with a 4xx whose message says what is wrong."""
    response = post_raw(client, "/predict", body)
    assert response.status_code == status
    assert message in response.text
    assert response.headers["x-request-id"]


def test_unknown_category_lists_the_allowed_values(client: TestClient) -> None:
    """The 422 for an unknown category names every allowed category."""
    response = client.post("/predict", json={**SEED_BODY, "payment_method": "Bitcoin"})
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "payment_method"]
    assert all(c in detail["msg"] for c in DEFAULT_SCHEMA.categorical[1].categories)


def test_wrong_content_type_is_415(client: TestClient) -> None:
    """A body not declared as JSON is refused with 415 and says which header to send."""
    response = client.post(
        "/predict", content=json.dumps(SEED_BODY), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415 and "application/json" in response.json()["detail"]


def test_batch_size_limits(trained_home: Path) -> None:
    """An empty batch and one above the configured limit are 422s naming the limit."""
    with TestClient(create_app(api_settings(trained_home, batch_limit=5))) as client:
        empty = client.post("/predict/batch", json=[])
        assert empty.status_code == 422 and "at least 1" in empty.text
        over = client.post("/predict/batch", json=[SEED_BODY] * 6)
        assert over.status_code == 422 and "at most 5" in over.text
        assert "input" not in over.json()["detail"][0]  # the whole batch is not echoed back
        bad_row = client.post("/predict/batch", json=[SEED_BODY, {**SEED_BODY, "tenure": -1}])
        assert bad_row.json()["detail"][0]["loc"] == ["body", 1, "tenure"]


def test_oversized_bodies_are_413(trained_home: Path) -> None:
    """Bodies above CHURNOPS_MAX_BODY_BYTES are refused, declared or chunked."""
    with TestClient(create_app(api_settings(trained_home, max_body_bytes=2_048))) as client:
        body = json.dumps([SEED_BODY] * 50)
        declared = post_raw(client, "/predict/batch", body)
        assert declared.status_code == 413 and "2,048 bytes" in declared.json()["detail"]
        chunked = client.post(
            "/predict/batch",
            content=iter([body[:1_500].encode(), body[1_500:].encode()]),
            headers={"content-type": "application/json"},
        )
        assert chunked.status_code == 413
        assert client.post("/predict", json=SEED_BODY).status_code == 200


# ---- no model, hot reload, admin --------------------------------------------------------------
def test_empty_registry_starts_not_ready(tmp_path: Path) -> None:
    """With an empty registry the app starts; predictions are 503 with a clear message."""
    with TestClient(create_app(api_settings(tmp_path / "empty"))) as client:
        assert client.get("/health/live").status_code == 200
        ready = client.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "not ready"
        response = client.post("/predict", json=SEED_BODY)
        assert response.status_code == 503
        assert "no model is loaded" in response.json()["detail"]
        assert "churnops train" in response.json()["detail"]  # the reason: nothing trained yet
        assert response.headers["retry-after"]
        assert client.post("/predict/batch", json=[SEED_BODY]).status_code == 503
        assert client.get("/model-info").json()["ready"] is False
        assert client.get("/").json()["model_version"] is None


def test_admin_reload_picks_up_a_new_model_at_once(trained_home: Path) -> None:
    """After training, POST /admin/reload serves the new version without waiting for a poll."""
    from churnops import workflow
    from churnops.settings import load_settings

    settings = api_settings(trained_home, poll_interval=3600)
    with TestClient(create_app(settings)) as client:
        workflow.train_step(
            load_settings(home=trained_home, rows=4_000, n_estimators=60, seed=3), force=True
        )
        assert client.post("/predict", json=SEED_BODY).json()["model_version"] == 1
        response = client.post("/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert response.json() == {
            "changed": True,
            "model_version": 2,
            "error": None,
            "experiment_id": None,
            "experiment_error": None,
        }
        assert client.post("/predict", json=SEED_BODY).json()["model_version"] == 2


def test_a_refused_model_keeps_the_old_one_and_says_why(two_version_home: Settings) -> None:
    """A current version whose file was altered after promotion is refused on reload: v1
    keeps answering, and /model-info and /metrics report the failure."""
    settings = two_version_home
    with TestClient(create_app(settings)) as client:
        switch(settings, "promote", 2, "test")
        registry = Registry(settings)
        onnx = registry.onnx_path(registry.require(registry.read(), 2))
        onnx.write_bytes(onnx.read_bytes() + b"tampered")
        reload = client.post("/admin/reload", headers={"X-Admin-Token": ADMIN_TOKEN}).json()
        assert reload["changed"] is False and "SHA-256" in reload["error"]
        assert client.post("/predict", json=SEED_BODY).json()["model_version"] == 1
        info = client.get("/model-info").json()
        assert info["version"] == 1 and "SHA-256" in info["last_reload_error"]
        metrics = client.get("/metrics").text
        assert "churnops_model_reload_failures_total 1.0" in metrics
        assert "churnops_model_last_reload_failed 1.0" in metrics


# ---- hostile input and failure states ----------------------------------------------------------
def test_validation_errors_are_capped_and_never_echo_large_inputs(client: TestClient) -> None:
    """A batch's answer lists its first 20 errors, counts them all and the rows they are in;
    10,000 empty rows (50,000 errors) get a few KB; a row holding an 8 MB string gets a short
    answer with the string cut; an 8 MB body is too large for the single-row endpoint."""
    no_tenure = {k: v for k, v in SEED_BODY.items() if k != "tenure"}
    some = client.post("/predict/batch", json=[no_tenure] * 100).json()
    assert (some["error_count"], some["rows_refused"], len(some["detail"])) == (100, 100, 20)
    assert [e["loc"] for e in some["detail"]] == [["body", i, "tenure"] for i in range(20)]
    assert "input" not in some["detail"][0]  # a missing field: its row is not echoed
    empty_rows = client.post("/predict/batch", json=[{}] * 10_000)
    assert empty_rows.status_code == 422 and len(empty_rows.content) < 10_000
    body = empty_rows.json()
    assert (body["error_count"], body["rows_refused"]) == (50_000, 10_000)
    assert [e["loc"][:2] for e in body["detail"]] == [
        ["body", i] for i in range(4) for _ in "12345"
    ]
    assert all("input" not in error for error in body["detail"])
    huge = {"a": "A" * 8_000_000}
    one_huge_row = client.post("/predict/batch", json=[{**SEED_BODY, "tenure": "A" * 8_000_000}])
    assert one_huge_row.status_code == 422 and len(one_huge_row.content) < 10_000
    error = one_huge_row.json()["detail"][0]
    assert error["loc"] == ["body", 0, "tenure"] and "'" + "A" * 40 + "…'" in error["msg"]
    assert error["input"] == "A" * 100 + "…"
    too_big = client.post("/predict", json=huge)
    assert too_big.status_code == 413 and "/predict/batch" in too_big.json()["detail"]


def test_a_bad_customer_id_is_told_in_words_and_not_echoed_whole(client: TestClient) -> None:
    """/predict and /predict/batch say what a customer id may hold, not the regular
    expression, and show a long bad id cut."""
    long = "C 1" * 10_000
    single = client.post("/predict", json={**SEED_BODY, "customer_id": long})
    batch = client.post("/predict/batch", json=[SEED_BODY, {**SEED_BODY, "customer_id": long}])
    for response, loc in ((single, ["body", "customer_id"]), (batch, ["body", 1, "customer_id"])):
        assert response.status_code == 422 and len(response.content) < 2_000
        [error] = response.json()["detail"]
        assert error["loc"] == loc
        assert error["msg"].startswith(
            f"Input should be a customer id: text of {CUSTOMER_ID_RULE};"
        )
        assert error["input"] == long[:100] + "…"


def test_an_error_never_echoes_the_body_or_a_row(client: TestClient) -> None:
    """A missing field's error has pydantic's input, the object it is missing from: the body
    or a row is not echoed for it, nor for a row that is not an object; a field's value is."""
    no_charges = {k: v for k, v in SEED_BODY.items() if k != "monthly_charges"}
    one = client.post("/predict", json=no_charges).json()["detail"]
    assert one == [{"type": "missing", "loc": ["body", "monthly_charges"], "msg": "Field required"}]
    rows = client.post("/predict/batch", json=[SEED_BODY, no_charges, 7]).json()["detail"]
    assert [error["loc"] for error in rows] == [["body", 1, "monthly_charges"], ["body", 2]]
    assert all("input" not in error for error in rows)
    wrong = client.post("/predict", json={**SEED_BODY, "tenure": -1}).json()["detail"]
    assert wrong[0]["input"] == -1


def test_a_row_with_thousands_of_unknown_fields_is_not_listed_field_by_field(
    trained_home: Path,
) -> None:
    """Listing errors holds the GIL about a microsecond each: past 1,000, the answer says how
    many there are instead of listing them (unknown fields are errors only when forbidden)."""
    row = {f"f{i}": 0 for i in range(5_000)}  # < 64 KiB
    forbid = api_settings(trained_home, api_extra_fields="forbid")
    with TestClient(create_app(forbid)) as client:
        response = client.post("/predict", json=row)
        assert response.status_code == 422
        body = response.json()
        assert body["error_count"] == 5_005
        assert [e["type"] for e in body["detail"]] == ["too_many_errors"]
        batch = client.post("/predict/batch", json=[row, SEED_BODY]).json()
        assert (batch["error_count"], batch["rows_refused"]) == (5_005, 1)
        assert [e["loc"] for e in batch["detail"]] == [["body", 0]]


def test_ready_reports_rows_the_log_could_not_write(settings: Settings) -> None:
    """A row the database refuses is counted in /health/ready's detail and in /metrics, and
    the writer keeps writing later rows."""
    state = build_state(settings)
    with TestClient(app_for(state)) as client:
        assert state.log is not None
        features = SimpleNamespace(**SEED_BODY, customer_id=None)
        bad = LogLayout(DEFAULT_SCHEMA).row(1_700_000_000.0, "bad", 2**63, features, 0.5, True, 1.0)
        state.log.submit(LogLayout(DEFAULT_SCHEMA), [bad])
        detail: dict[str, Any] = {}
        deadline = time.monotonic() + 30
        while not detail.get("failed") and time.monotonic() < deadline:
            detail = client.get("/health/ready").json()["inference_log"]
            time.sleep(0.05)
        assert detail["failed"] == 1 and detail["writer_running"] is True
        assert "OverflowError" in detail["last_error"]
        assert client.post("/predict", json=SEED_BODY).status_code == 200
        assert "churnops_inference_log_rows_failed_total 1.0" in client.get("/metrics").text
        assert "churnops_inference_log_writer_running 1.0" in client.get("/metrics").text
    assert logstore.read(settings.inference_db)["request_id"].tolist() != []


def test_the_reload_failure_clears_when_the_registry_is_good_again(
    two_version_home: Settings,
) -> None:
    """A promoted version whose file is missing fails to load; once the registry names the
    version serving again, /model-info, the metric and /admin/reload all say all is well."""
    settings = two_version_home
    admin = {"X-Admin-Token": ADMIN_TOKEN}
    with TestClient(create_app(settings)) as client:
        switch(settings, "promote", 2, "test")
        registry = Registry(settings)
        onnx = registry.onnx_path(registry.require(registry.read(), 2))
        onnx.unlink()
        failed = client.post("/admin/reload", headers=admin).json()
        assert f"models/{onnx.name} is missing" in failed["error"]
        info = client.get("/model-info").json()
        assert str(settings.home) not in info["last_reload_error"]  # no server path leaks
        assert "churnops_model_last_reload_failed 1.0" in client.get("/metrics").text
        switch(settings, "rollback", 1, "test: back to the version serving")
        assert client.post("/admin/reload", headers=admin).json()["error"] is None
        assert client.get("/model-info").json()["last_reload_error"] is None
        assert "churnops_model_last_reload_failed 0.0" in client.get("/metrics").text


def test_model_info_reports_a_pointer_that_disagrees(two_version_home: Settings) -> None:
    """A hand-edited pointer naming another version is not followed; /model-info says so."""
    settings = two_version_home
    registry = Registry(settings)
    other = registry.require(registry.read(), 2)
    with TestClient(create_app(settings)) as client:
        registry.pointer_path.write_text(other.file + "\n")
        client.post("/admin/reload", headers={"X-Admin-Token": ADMIN_TOKEN})
        info = client.get("/model-info").json()
        assert info["version"] == 1 and other.file in info["pointer_warning"]
        assert client.post("/predict", json=SEED_BODY).json()["model_version"] == 1
