"""Training: a seeded, reproducible pipeline with the documented metrics, on checked data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnops import workflow
from churnops.data.generate import generate
from churnops.errors import BadInputError
from churnops.model.train import TUNE_GRID, Trained, build_pipeline, load_processed, train_model
from churnops.schema import DEFAULT_SCHEMA
from churnops.settings import Settings, load_settings

METRIC_KEYS = {
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "brier",
    "confusion_matrix",
    "threshold",
    "rows",
    "positive_rate",
}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate(2_000, seed=5, dirt=False).frame


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(home=tmp_path_factory.mktemp("train"), n_estimators=20)


@pytest.fixture(scope="module")
def trained(frame: pd.DataFrame, settings: Settings) -> Trained:
    return train_model(frame, settings, tune=False)


def test_a_rerun_with_the_same_seed_gives_identical_metrics(
    frame: pd.DataFrame, settings: Settings, trained: Trained
) -> None:
    """Training twice with the same seed gives the same split, model and metrics."""
    again = train_model(frame, settings, tune=False)
    # the forest sums its trees in thread-completion order (n_jobs=-1): probabilities, and the
    # Brier score averaged from them, are equal to the last bits only
    assert again.metrics["brier"] == pytest.approx(trained.metrics["brier"], rel=0, abs=1e-12)
    assert again.metrics | {"brier": 0} == trained.metrics | {"brier": 0}
    np.testing.assert_allclose(again.holdout_proba, trained.holdout_proba, rtol=0, atol=1e-12)
    assert list(again.holdout_frame.index) == list(trained.holdout_frame.index)


def test_reports_every_documented_metric(trained: Trained, settings: Settings) -> None:
    """It reports accuracy, precision, recall, F1, ROC AUC, confusion matrix and threshold on
    the hold-out, and the matrix accounts for every hold-out row."""
    metrics = trained.metrics
    assert set(metrics) == METRIC_KEYS
    assert metrics["threshold"] == settings.decision_threshold
    assert metrics["rows"] == len(trained.holdout_frame) == round(2_000 * settings.test_size)
    assert sum(map(sum, metrics["confusion_matrix"])) == metrics["rows"]
    assert 0.75 < metrics["roc_auc"] < 0.95
    for key in ("accuracy", "precision", "recall", "f1"):
        assert 0 <= metrics[key] <= 1


def test_split_is_stratified_and_disjoint(trained: Trained, frame: pd.DataFrame) -> None:
    """The hold-out keeps the churn rate and shares no customer with the training rows."""
    assert set(trained.train_frame["customer_id"]).isdisjoint(trained.holdout_frame["customer_id"])
    assert len(trained.train_frame) + len(trained.holdout_frame) == len(frame)
    assert trained.holdout_frame["churn"].mean() == pytest.approx(frame["churn"].mean(), abs=0.01)


def test_hyperparameters_come_from_settings(trained: Trained, settings: Settings) -> None:
    """The fitted forest uses the configured hyper-parameters and the seed."""
    forest = trained.pipeline.named_steps["model"]
    assert trained.hyperparameters == {
        "n_estimators": 20,
        "max_depth": settings.max_depth,
        "min_samples_leaf": settings.min_samples_leaf,
        "max_features": settings.max_features,
    }
    assert forest.n_estimators == 20
    assert forest.random_state == settings.seed


def test_pipeline_one_hot_encodes_the_schema_categories(trained: Trained) -> None:
    """The model's input columns are the schema's encoded names, in schema order."""
    preprocess = trained.pipeline.named_steps["preprocess"]
    out = preprocess.transform(trained.holdout_frame[DEFAULT_SCHEMA.feature_names].head(5))
    np.testing.assert_array_equal(out, DEFAULT_SCHEMA.encode(trained.holdout_frame.head(5)))


def test_an_unseen_category_does_not_break_prediction(trained: Trained) -> None:
    """A category absent from the schema is encoded as all zeros instead of failing."""
    row = trained.holdout_frame[DEFAULT_SCHEMA.feature_names].head(1).copy()
    row["payment_method"] = "Cash"
    proba = trained.pipeline.predict_proba(row)[:, 1]
    assert 0 <= proba[0] <= 1


@pytest.mark.parametrize(
    ("riskier", "safer"),
    [
        ({"contract_type": "Month-to-month"}, {"contract_type": "Two year"}),
        ({"payment_method": "Electronic check"}, {"payment_method": "Credit card (automatic)"}),
        ({"tenure": 2, "total_charges": 140.0}, {"tenure": 60, "total_charges": 4200.0}),
    ],
    ids=["contract", "payment", "tenure"],
)
def test_learns_the_ground_truth_directions(
    trained: Trained, riskier: dict[str, object], safer: dict[str, object]
) -> None:
    """Directional behaviour: what raises churn in the ground truth raises the predicted risk."""
    base = {
        "tenure": 12,
        "monthly_charges": 70.0,
        "total_charges": 840.0,
        "contract_type": "One year",
        "payment_method": "Mailed check",
    }
    rows = pd.DataFrame([{**base, **riskier}, {**base, **safer}])
    high, low = trained.pipeline.predict_proba(rows)[:, 1]
    assert high > low


@pytest.mark.slow
def test_tune_searches_the_grid(frame: pd.DataFrame, settings: Settings) -> None:
    """--tune picks hyper-parameters from the grid by cross-validated ROC AUC and records it."""
    small = settings.model_copy(update={"n_estimators": 3})
    result = train_model(frame.head(300), small, tune=True)
    assert result.cv is not None
    assert 0.5 < result.cv["best_cv_roc_auc"] <= 1
    for name, values in TUNE_GRID.items():
        assert result.hyperparameters[name.removeprefix("model__")] in values


def test_build_pipeline_is_unfitted() -> None:
    """A fresh pipeline carries the seed and fits nothing until asked."""
    pipeline = build_pipeline(DEFAULT_SCHEMA, {"n_estimators": 5}, seed=9)
    assert pipeline.named_steps["model"].random_state == 9
    assert not hasattr(pipeline.named_steps["model"], "estimators_")


# ---- the prepared table ---------------------------------------------------------------------
def _write(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_load_processed_reads_the_prepared_table(tmp_path: Path, frame: pd.DataFrame) -> None:
    """It reads a prepared CSV back with numeric features and an integer label."""
    loaded = load_processed(_write(tmp_path / "p.csv", frame.head(50)))
    assert loaded["churn"].dtype.kind == "i"
    assert loaded["tenure"].dtype.kind in "if"
    np.testing.assert_allclose(loaded["monthly_charges"], frame["monthly_charges"].head(50))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: f.drop(columns=["tenure"]), "lacks column"),
        (lambda f: f.assign(tenure=f["tenure"].astype(str).where(f.index > 0, "x")), "tenure"),
        (lambda f: f.assign(churn=0), "single value"),
        (
            lambda f: f.assign(monthly_charges=f["monthly_charges"].where(f.index > 0, np.inf)),
            "out of range",
        ),
        (lambda f: f.assign(churn=f["churn"].where(f.index > 0, 2)), "label not 1/true/yes"),
        (
            lambda f: f.assign(contract_type=f["contract_type"].where(f.index > 0, "Lifetime")),
            "unknown contract_type",
        ),
        (lambda f: f.assign(tenure=f["tenure"].where(f.index > 0, -3)), "tenure out of range"),
    ],
    ids=[
        "missing-column",
        "not-numeric",
        "one-label",
        "infinity",
        "label-2",
        "unknown-category",
        "negative-tenure",
    ],
)
def test_load_processed_refuses_unusable_tables(
    tmp_path: Path,
    frame: pd.DataFrame,
    damage: Callable[[pd.DataFrame], pd.DataFrame],
    message: str,
) -> None:
    """It refuses a prepared table without a feature, with text numbers or a single label."""
    path = _write(tmp_path / "p.csv", damage(frame.head(50)))
    with pytest.raises(BadInputError, match=message):
        load_processed(path)


def test_load_processed_says_to_run_prepare(tmp_path: Path) -> None:
    """Without a prepared file it says to run prepare first."""
    with pytest.raises(BadInputError, match="churnops prepare"):
        load_processed(tmp_path / "processed.csv")


@pytest.mark.slow
def test_default_data_reaches_the_oracle_auc(tmp_path: Path) -> None:
    """On the default 10,000 generated rows and default hyper-parameters, the hold-out ROC AUC
    is within 0.02 of the oracle AUC, which is recorded beside it."""
    settings = load_settings(home=tmp_path)
    assert (settings.rows, settings.n_estimators) == (10_000, 200)
    workflow.generate_step(settings)
    workflow.prepare_step(settings)
    result = workflow.train_step(settings)
    metrics = result.registered.entry.metrics
    assert result.oracle_auc is not None
    assert metrics["oracle_roc_auc"] == result.oracle_auc
    assert abs(metrics["roc_auc"] - result.oracle_auc) <= 0.02
    assert result.registered.promoted
