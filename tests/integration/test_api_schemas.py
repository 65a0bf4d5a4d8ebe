"""The API follows the feature schema of the model it serves (in-process, real models and log):
a promotion or rollback to a version with other features switches validation, encoding,
the OpenAPI document and the log columns with the model; batches say which rows failed;
extra fields are ignored or refused; /docs and /redoc need no network."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from api_support import ADMIN_TOKEN, SEED_BODY, api_settings
from cli_support import RunCli
from fastapi.testclient import TestClient
from serving_support import body_for_both, register_other_schema, scored_by, table_schema

from churnops import logstore
from churnops.atomic import atomic_write_json
from churnops.registry.promotion import switch
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA
from churnops.serving.app import create_app
from churnops.settings import Settings

ADMIN = {"X-Admin-Token": ADMIN_TOKEN}


@pytest.fixture(scope="module")
def _two_schemas(_trained_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 on the built-in schema (current) and v2 on the minimal table's (waiting)."""
    home = tmp_path_factory.mktemp("schemas") / "home"
    shutil.copytree(_trained_template, home)
    assert register_other_schema(home, "minimal") == 2
    return home


@pytest.fixture
def settings(_two_schemas: Path, tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    shutil.copytree(_two_schemas, home)
    return api_settings(home, poll_interval=3600)  # swaps happen on /admin/reload


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def request_fields(client: TestClient) -> set[str]:
    document = client.get("/openapi.json").json()
    body = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/CustomerFeatures"}
    batch = document["paths"]["/predict/batch"]["post"]["requestBody"]["content"]
    assert batch["application/json"]["schema"]["items"] == body["schema"]
    return set(document["components"]["schemas"]["CustomerFeatures"].get("properties", {}))


def test_a_swap_to_other_features_switches_validation_and_model_together(
    client: TestClient, settings: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    """v1 → v2 (other features) → v1: each answer comes from the version named in it, with
    that version's probability for the body; the 422s, /openapi.json, the example in /, the
    metric and the log columns follow the version serving."""
    minimal = table_schema(settings.home, "minimal")
    body = {**body_for_both(minimal), "customer_id": "C1"}
    answer = client.post("/predict", json=body).json()
    assert answer["model_version"] == 1
    assert answer["churn_probability"] == pytest.approx(scored_by(settings, body)[1], abs=1e-6)
    assert request_fields(client) == {*DEFAULT_SCHEMA.feature_names, "customer_id"}

    switch(settings, "promote", 2, "test: other features", force=True)
    assert client.post("/admin/reload", headers=ADMIN).json()["model_version"] == 2
    answer = client.post("/predict", json=body).json()
    assert answer["model_version"] == 2
    assert answer["churn_probability"] == pytest.approx(scored_by(settings, body)[2], abs=1e-6)
    batch = client.post("/predict/batch", json=[body, {**body, "plan": "BASIC"}]).json()
    assert [p["row"] for p in batch["predictions"]] == [0, 1]
    seed_only = client.post("/predict", json=SEED_BODY)
    assert seed_only.status_code == 422
    assert {e["loc"][1] for e in seed_only.json()["detail"]} == {"usage_hours", "plan"}
    assert request_fields(client) == {"usage_hours", "plan", "customer_id"}
    assert set(client.get("/").json()["example"]["POST /predict"]) == {"usage_hours", "plan"}
    assert client.get("/model-info").json()["feature_schema"] == minimal.model_dump(mode="json")
    assert "churnops_model_features 2.0" in client.get("/metrics").text

    switch(settings, "rollback", 1, "test: back to the built-in features")
    assert client.post("/admin/reload", headers=ADMIN).json()["model_version"] == 1
    assert client.post("/predict", json=SEED_BODY).json()["model_version"] == 1
    assert request_fields(client) == {*DEFAULT_SCHEMA.feature_names, "customer_id"}
    client.__exit__(None, None, None)  # the writer flushes

    log = logstore.read(settings.inference_db, schema=None)
    assert log["model_version"].tolist() == [1, 2, 2, 2, 1]
    served_by_two = log["model_version"] == 2
    assert log.loc[served_by_two, "plan"].tolist() == [
        minimal.categorical[0].categories[-1]
    ] * 2 + ["basic"]
    assert log.loc[~served_by_two, "plan"].isna().all()
    assert log.loc[served_by_two, "contract_type"].isna().all()
    assert logstore.read(settings.inference_db, schema=minimal)["usage_hours"].notna().sum() == 3
    exported = tmp_path / "log.csv"
    assert run_cli("logs", "export", "-o", exported, "--home", settings.home).code == 0
    assert {"usage_hours", "plan", "contract_type"} <= set(pd.read_csv(exported).columns)


def test_values_are_read_as_prepare_reads_them(client: TestClient, settings: Settings) -> None:
    """Numbers as text, other spellings and aliases get the answer of the canonical body;
    a boolean, a list or text that is not a number for a number is still a 422."""
    spelled = {
        "tenure": " 12 ",
        "monthly_charges": "65.50",
        "total_charges": "786",
        "contract_type": "month to month",
        "payment_method": "ELECTRONIC CHECK",
    }
    canonical = client.post("/predict", json=SEED_BODY).json()["churn_probability"]
    assert client.post("/predict", json=spelled).json()["churn_probability"] == canonical
    for wrong in (True, [12], "12 months", "abc"):
        response = client.post("/predict", json={**SEED_BODY, "tenure": wrong})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [
            "body",
            "tenure",
        ]


def test_extra_fields_are_ignored_by_default_and_refused_when_forbidden(
    settings: Settings,
) -> None:
    """A client sending the whole customer record is answered; with
    CHURNOPS_API_EXTRA_FIELDS=forbid the unknown fields are named in a 422."""
    record = {**SEED_BODY, "gender": "Female", "Partner": "Yes"}
    with TestClient(create_app(settings)) as client:
        assert client.post("/predict", json=record).status_code == 200
    strict = settings.model_copy(update={"api_extra_fields": "forbid"})
    with TestClient(create_app(strict)) as client:
        refused = client.post("/predict", json=record)
        assert refused.status_code == 422
        assert {e["loc"][1] for e in refused.json()["detail"]} == {"gender", "Partner"}
        properties = client.get("/openapi.json").json()["components"]["schemas"]
        assert properties["CustomerFeatures"]["additionalProperties"] is False


def test_a_partly_bad_batch_is_refused_whole_by_default(client: TestClient) -> None:
    """CHURNOPS_BATCH_ERRORS=refuse (the default): a 422 naming each bad row and why."""
    rows = [SEED_BODY, {**SEED_BODY, "tenure": -1}, SEED_BODY, {**SEED_BODY, "tenure": "x"}]
    response = client.post("/predict/batch", json=rows)
    assert response.status_code == 422
    body = response.json()
    assert (body["rows_refused"], body["error_count"]) == (2, 2)
    assert [(e["loc"], e["type"]) for e in body["detail"]] == [
        (["body", 1, "tenure"], "greater_than_equal"),
        (["body", 3, "tenure"], "number_type"),
    ]


def test_skip_mode_answers_the_good_rows_and_lists_the_bad(settings: Settings) -> None:
    """CHURNOPS_BATCH_ERRORS=skip: the good rows are answered (with their position), the bad
    ones listed; only answered rows are logged; a batch with no good row is still a 422."""
    skip = settings.model_copy(update={"batch_errors": "skip"})
    rows = [{**SEED_BODY, "customer_id": f"C{i}"} for i in range(5)]
    rows[1]["tenure"], rows[3]["contract_type"] = 500, "Weekly"
    with TestClient(create_app(skip)) as client:
        answer = client.post("/predict/batch", json=rows).json()
        assert [p["row"] for p in answer["predictions"]] == [0, 2, 4]
        assert [p["customer_id"] for p in answer["predictions"]] == ["C0", "C2", "C4"]
        assert (answer["count"], answer["rows_refused"], answer["error_count"]) == (3, 2, 2)
        assert [e["loc"] for e in answer["errors"]] == [
            ["body", 1, "tenure"],
            ["body", 3, "contract_type"],
        ]
        assert client.post("/predict/batch", json=[rows[1], rows[3]]).status_code == 422
        many = client.post("/predict/batch", json=[{}] * 300 + [rows[0]]).json()  # 1,500 errors
        assert [p["row"] for p in many["predictions"]] == [300]
        assert (many["rows_refused"], many["error_count"], len(many["errors"])) == (300, 1500, 20)
    logged = logstore.read(settings.inference_db)["customer_id"]
    assert sorted(logged) == ["C0", "C0", "C2", "C4"]


def test_a_version_the_api_cannot_serve_is_refused_and_said_why(
    client: TestClient, settings: Settings
) -> None:
    """A current version whose features cannot make a request model (a name pydantic
    reserves) is not swapped in: the previous version keeps answering, and /model-info,
    /health/ready and the reload metric say why."""
    registry = Registry(settings)
    state = registry.read()
    entry = registry.require(state, 2)
    entry.feature_schema["categorical"][0]["name"] = "model_config"
    state.current_version = 2
    atomic_write_json(registry.metadata_path, state.model_dump(mode="json"))
    reload = client.post("/admin/reload", headers=ADMIN).json()
    assert reload["model_version"] == 1 and "cannot build requests" in reload["error"]
    assert client.post("/predict", json=SEED_BODY).json()["model_version"] == 1
    assert "v2 refused" in client.get("/model-info").json()["last_reload_error"]
    ready = client.get("/health/ready").json()
    assert ready["status"] == "ready" and "v2 refused" in ready["reason"]
    assert "churnops_model_last_reload_failed 1.0" in client.get("/metrics").text


def test_the_docs_are_served_from_the_package(client: TestClient) -> None:
    """/docs and /redoc load their JavaScript and CSS from this server (they work offline):
    every URL in the pages is local, and each asset is served."""
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert re.findall(r"(?:https?:)?//[\w.-]+", html) == []  # no other host named
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets and all(url.startswith("/") for url in assets)
        for url in assets:
            response = client.get(url)
            assert response.status_code == 200, url
            # a whole file, not an error page: scripts and styles are large, the icon is a PNG
            assert response.content.startswith(b"\x89PNG") or len(response.content) > 1_000, url
    assert "openapi.json" in client.get("/docs").text


def test_an_empty_registry_documents_a_body_to_come(tmp_path: Path, settings: Settings) -> None:
    """With no model the app starts, /openapi.json says the body is the first model's, and
    /docs works; once a model is trained and loaded the document describes its features."""
    home = tmp_path / "empty"
    with TestClient(create_app(api_settings(home, poll_interval=3600))) as client:
        assert client.get("/docs").status_code == 200
        document = client.get("/openapi.json").json()
        assert "No model is serving yet" in json.dumps(document["components"])
        shutil.rmtree(home)
        shutil.copytree(settings.home, home)
        assert client.post("/admin/reload", headers=ADMIN).json()["model_version"] == 1
        assert request_fields(client) == {*DEFAULT_SCHEMA.feature_names, "customer_id"}
