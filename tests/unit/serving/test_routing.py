"""Experiment routing in the API (in-process, real registry, ONNX Runtime and SQLite log)."""

from __future__ import annotations

import gc
import weakref

import pandas as pd
import pytest
from conftest import ADMIN_TOKEN
from fastapi.testclient import TestClient
from serving_support import inputs_for, scored_by

from churnops import logstore
from churnops.experiments.assignment import Assigner
from churnops.registry.experiments import start_experiment, stop_experiment
from churnops.registry.store import Registry
from churnops.schema import SEED_EXAMPLE
from churnops.serving.app import app_for, build_state, create_app
from churnops.serving.predictor import Predictor
from churnops.settings import Settings

SEED_BODY = dict(SEED_EXAMPLE)
CUSTOMERS = [f"R{i:05d}" for i in range(200)]


def logged(settings: Settings) -> pd.DataFrame:
    return logstore.read(settings.inference_db, schema=None)


def test_one_reference_holds_champion_and_challenger(two_versions: Settings) -> None:
    """The experiment is published with the champion in one swap; stopping it drops the
    challenger; an object taken before keeps its pair."""
    predictor = Predictor(two_versions, inputs_for)
    predictor.refresh()
    plain = predictor.serving
    assert plain is not None and plain.experiment is None
    experiment = start_experiment(two_versions, 2, "ab", 50)
    outcome = predictor.refresh()
    assert not outcome.changed and outcome.version == 1  # the champion did not change
    serving = predictor.serving
    assert serving is not None and serving.experiment is not None
    assert serving.experiment.experiment == experiment
    assert serving.experiment.champion is serving.champion is plain.champion
    assert serving.experiment.challenger.version == 2
    assert plain.experiment is None  # a request holding the old reference keeps its answer
    predictor.refresh(force=True)
    assert predictor.serving is serving  # unchanged registry: the same running experiment
    stop_experiment(two_versions, promote=False, verdict="test")
    predictor.refresh()
    after = predictor.serving
    assert after is not None and after.experiment is None and after.champion is plain.champion


def test_ab_answers_say_who_answered_and_follow_the_buckets(two_versions: Settings) -> None:
    """At 50 % each customer is answered by the variant its bucket gives, with that
    version's probability; body, headers, log rows and metrics all say so."""
    truth = scored_by(two_versions, SEED_BODY)
    experiment = start_experiment(two_versions, 2, "ab", 50)
    assigner = Assigner(experiment.id, 50)
    answers = {}
    with TestClient(create_app(two_versions)) as client:
        for customer in CUSTOMERS:
            response = client.post("/predict", json={**SEED_BODY, "customer_id": customer})
            assert response.status_code == 200
            answer = response.json()
            answers[customer] = answer
            expected = assigner.assign(customer).variant
            assert answer["variant"] == response.headers["x-churnops-variant"] == expected
            version = 2 if expected == "challenger" else 1
            assert answer["model_version"] == version
            assert response.headers["x-churnops-model-version"] == str(version)
            assert answer["churn_probability"] == pytest.approx(truth[version], abs=1e-6)
            assert answer["experiment_id"] == experiment.id and answer["variant_random"] is False
        anonymous = client.post("/predict", json={**SEED_BODY, "customer_id": None}).json()
        assert anonymous["variant_random"] is True
        info = client.get("/model-info").json()
        metrics = client.get("/metrics").text
    assert info["experiment"]["id"] == experiment.id and info["experiment"]["share"] == 50
    assert info["version"] == 1 and info["experiment_error"] is None
    challengers = sum(a["variant"] == "challenger" for a in answers.values())
    assert 60 < challengers < 140
    counted = challengers + (anonymous["variant"] == "challenger")  # the random one too
    assert f'variant="challenger"}} {counted}.0' in metrics
    assert "churnops_experiment_running 1.0" in metrics
    log = logged(two_versions)
    assert len(log) == len(CUSTOMERS) + 1
    by_request = log.set_index("request_id")
    for answer in answers.values():
        row = by_request.loc[answer["request_id"]]
        assert (row["variant"], row["model_version"]) == (
            answer["variant"],
            answer["model_version"],
        )
        assert row["experiment_id"] == experiment.id and row["variant_random"] == 0
        assert pd.isna(row["shadow_probability"])
    assert by_request.loc[anonymous["request_id"], "variant_random"] == 1


def test_a_reload_says_which_experiment_it_applies(two_versions: Settings) -> None:
    """An experiment started or stopped while the API runs: the reload that applies it says
    so, although the champion did not change."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(create_app(two_versions)) as client:
        experiment = start_experiment(two_versions, 2, "ab", 50)
        started = client.post("/admin/reload", headers=admin).json()
        stop_experiment(two_versions, promote=False, verdict="test: reload")
        stopped = client.post("/admin/reload", headers=admin).json()
    assert started["changed"] is False and started["model_version"] == 1
    assert (started["experiment_id"], started["experiment_error"]) == (experiment.id, None)
    assert (stopped["changed"], stopped["experiment_id"]) == (False, None)


def test_a_stopped_experiment_leaves_no_model_behind(two_versions: Settings) -> None:
    """Once the API has followed a stop, nothing holds the challenger any more — the metrics
    count its answers by their labels, not by the route that holds the model (they did: an A/B
    challenger that had answered stayed loaded, ONNX session and all, until the process ended)."""
    start_experiment(two_versions, 2, "ab", 50)
    state = build_state(two_versions)
    with TestClient(app_for(state)) as client:
        for customer in CUSTOMERS[:20]:
            assert client.post("/predict", json={**SEED_BODY, "customer_id": customer}).is_success
        assert client.post("/predict/batch", json=[SEED_BODY] * 3).is_success
        assert 'variant="challenger"' in client.get("/metrics").text  # it answered some
        serving = state.predictor.serving
        assert serving is not None and serving.experiment is not None
        challenger = weakref.ref(serving.experiment.challenger)
        del serving
        stop_experiment(two_versions, promote=False, verdict="test")
        state.predictor.refresh()
        assert state.predictor.serving is not None
        assert state.predictor.serving.experiment is None
        gc.collect()
        assert challenger() is None
        metrics = client.get("/metrics").text
    assert 'churnops_experiment_predictions_total{experiment_id="exp' in metrics  # still counted


def test_a_batch_is_routed_per_row(two_versions: Settings) -> None:
    truth = scored_by(two_versions, SEED_BODY)
    experiment = start_experiment(two_versions, 2, "ab", 50)
    assigner = Assigner(experiment.id, 50)
    rows = [{**SEED_BODY, "customer_id": customer} for customer in CUSTOMERS]
    with TestClient(create_app(two_versions)) as client:
        response = client.post("/predict/batch", json=rows)
    assert response.status_code == 200
    assert response.headers["x-churnops-variant"] == "challenger,champion"
    items = response.json()["predictions"]
    registry = Registry(two_versions)
    thresholds = {v: registry.require(registry.read(), v).threshold for v in (1, 2)}
    for customer, item in zip(CUSTOMERS, items, strict=True):
        variant = assigner.assign(customer).variant
        version = 2 if variant == "challenger" else 1
        assert (item["customer_id"], item["variant"], item["model_version"]) == (
            customer,
            variant,
            version,
        )
        assert item["churn_probability"] == pytest.approx(truth[version], abs=1e-6)
        # each row says the threshold it was decided at, and the experiment
        assert item["threshold"] == thresholds[version] and item["experiment_id"] == experiment.id
        assert item["churn"] == (item["churn_probability"] >= item["threshold"])
    log = logged(two_versions).set_index("customer_id")
    assert len(log) == len(CUSTOMERS)
    for item in items:
        assert log.loc[item["customer_id"], "model_version"] == item["model_version"]


def test_shadow_logs_the_challengers_score_and_never_returns_it(two_versions: Settings) -> None:
    """Shadow: v1 answers every request (single and batch); every log row also holds v2's
    score of the same row, computed by the log writer."""
    truth = scored_by(two_versions, SEED_BODY)
    experiment = start_experiment(two_versions, 2, "shadow")
    with TestClient(create_app(two_versions)) as client:
        singles = [
            client.post("/predict", json={**SEED_BODY, "customer_id": c}) for c in CUSTOMERS[:50]
        ]
        batch = client.post("/predict/batch", json=[SEED_BODY] * 30)
    for response in [*singles, batch]:
        assert response.status_code == 200 and response.headers["x-churnops-variant"] == "champion"
        assert "shadow" not in response.text
    assert all(r.json()["churn_probability"] == pytest.approx(truth[1]) for r in singles)
    log = logged(two_versions)
    assert len(log) == 80 and set(log["model_version"]) == {1}
    assert (log["experiment_id"] == experiment.id).all() and (log["variant"] == "champion").all()
    assert (log["shadow_version"] == 2).all()
    assert log["shadow_probability"].to_numpy() == pytest.approx([truth[2]] * 80, abs=1e-6)


def test_a_challenger_failing_verification_is_not_applied(two_versions: Settings) -> None:
    """The challenger's ONNX file changed after the experiment started: the API does not route
    to it; the champion answers everything, and /model-info, /health/ready and a gauge say
    why. Once the experiment is stopped, the error clears."""
    start_experiment(two_versions, 2, "ab", 50)
    registry = Registry(two_versions)
    onnx = registry.onnx_path(registry.require(registry.read(), 2))
    onnx.write_bytes(onnx.read_bytes()[:-10])
    with TestClient(create_app(two_versions)) as client:
        answers = [
            client.post("/predict", json={**SEED_BODY, "customer_id": c}).json()
            for c in CUSTOMERS[:40]
        ]
        info = client.get("/model-info").json()
        ready = client.get("/health/ready")
        metrics = client.get("/metrics").text
        stop_experiment(two_versions, promote=False, verdict="test: broken challenger")
        client.post("/admin/reload", headers={"Authorization": "Bearer s3cret-admin-token"})
        cleared = client.get("/model-info").json()
    assert {a["model_version"] for a in answers} == {1}
    assert all("variant" not in answer for answer in answers)
    error = info["experiment_error"]
    assert error is not None and "not applied" in error and "SHA-256" in error
    assert "v1 answers every request" in error and info["experiment"] is None
    assert ready.status_code == 200 and ready.json()["experiment_error"] == error
    assert "churnops_experiment_not_applied 1.0" in metrics
    assert "churnops_experiment_challenger_failures_total 1.0" in metrics
    assert cleared["experiment_error"] is None
