"""--calibrate: calibrated forests, their exact ONNX graph, and what the registry records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_support import RunCli
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline

from churnops import workflow
from churnops.data.generate import generate
from churnops.model.export import MAX_PARITY_GAP, check_parity, export_onnx
from churnops.model.onnx_model import INPUT_NAME, OnnxModel
from churnops.model.train import CALIBRATION_FOLDS, Options, Trained, build_pipeline, train_model
from churnops.schema import DEFAULT_SCHEMA
from churnops.settings import Settings, load_settings

EXACT = 1e-9
"""The calibrated graph computes in float64 like scikit-learn: far inside the 1e-5 limit."""


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate(3_000, seed=11, dirt=False).frame


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    return generate(5_000, seed=12, dirt=False).frame


@pytest.fixture(scope="module", params=["isotonic", "sigmoid"])
def calibrated(request: pytest.FixtureRequest, frame: pd.DataFrame) -> Trained:
    settings = load_settings(home=Path("unused"), n_estimators=40)
    options = Options(calibration=request.param)
    return train_model(frame, settings, tune=False, options=options)


def test_calibrated_model_keeps_onnx_parity(calibrated: Trained, fresh: pd.DataFrame) -> None:
    """On fresh customers the served probabilities equal scikit-learn's (float64 throughout,
    isotonic interpolated as SciPy does), behind the same single float input."""
    model = OnnxModel(export_onnx(calibrated.pipeline, DEFAULT_SCHEMA), DEFAULT_SCHEMA)
    (graph_input,) = model.session.get_inputs()
    assert (graph_input.name, graph_input.type) == (INPUT_NAME, "tensor(float)")
    assert check_parity(calibrated.pipeline, model, fresh) <= EXACT < MAX_PARITY_GAP
    served = model.predict_frame(fresh)
    assert np.all((served >= 0) & (served <= 1))


def test_calibration_is_recorded(calibrated: Trained) -> None:
    """The method and folds are kept with the hyper-parameters; the metrics carry the Brier
    score of the calibrated model and of the same forest uncalibrated."""
    method = calibrated.hyperparameters["calibration"]
    assert method in ("isotonic", "sigmoid")
    assert calibrated.hyperparameters["calibration_folds"] == CALIBRATION_FOLDS
    model = calibrated.pipeline.named_steps["model"]
    assert isinstance(model, CalibratedClassifierCV) and model.method == method
    assert len(model.calibrated_classifiers_) == CALIBRATION_FOLDS
    assert 0 < calibrated.metrics["brier"] < 0.25
    assert 0 < calibrated.metrics["brier_uncalibrated"] < 0.25


def test_constant_forests_export_with_parity(frame: pd.DataFrame) -> None:
    """Trees that are a single leaf (constant scores, so an isotonic map of one threshold)
    still give a graph that agrees with scikit-learn."""
    features, label = frame[DEFAULT_SCHEMA.feature_names], frame["churn"]
    for method in ("isotonic", "sigmoid"):
        pipeline = build_pipeline(DEFAULT_SCHEMA, {"n_estimators": 3}, seed=1)
        forest = RandomForestClassifier(n_estimators=3, min_samples_split=100_000, random_state=1)
        pipeline = Pipeline(
            [*pipeline.steps[:-1], ("model", CalibratedClassifierCV(forest, method=method, cv=3))]
        )
        pipeline.fit(features, label)
        model = OnnxModel(export_onnx(pipeline, DEFAULT_SCHEMA), DEFAULT_SCHEMA)
        assert check_parity(pipeline, model, frame.head(200)) <= EXACT


def test_uncalibrated_training_is_unchanged(frame: pd.DataFrame) -> None:
    """Without options nothing new enters the hyper-parameters; only the Brier score is added to
    the metrics."""
    settings = load_settings(home=Path("unused"), n_estimators=20)
    trained = train_model(frame, settings, tune=False)
    assert set(trained.hyperparameters) == {
        "n_estimators",
        "max_depth",
        "min_samples_leaf",
        "max_features",
    }
    assert trained.threshold == settings.decision_threshold
    assert "brier_uncalibrated" not in trained.metrics and "expected_cost" not in trained.metrics


@pytest.mark.slow
def test_isotonic_calibration_improves_the_brier_score_on_the_default_data(
    tmp_path: Path,
) -> None:
    """On the default data (10,000 rows, 200 trees) isotonic calibration lowers the hold-out
    Brier score below the uncalibrated forest's, keeps the ranking (ROC AUC within 0.005) and
    registers with parity far below 1e-5."""
    settings = load_settings(home=tmp_path)
    workflow.generate_step(settings)
    workflow.prepare_step(settings)
    plain = workflow.train_step(settings).registered.entry.metrics
    options = workflow.training_options(settings, calibration="isotonic")
    calibrated = workflow.train_step(settings, options=options).registered.entry
    metrics = calibrated.metrics
    assert metrics["brier_uncalibrated"] == pytest.approx(plain["brier"])
    assert metrics["brier"] < metrics["brier_uncalibrated"]
    assert abs(metrics["roc_auc"] - plain["roc_auc"]) < 0.005
    assert metrics["onnx_parity_max_abs_diff"] <= EXACT
    assert calibrated.hyperparameters["calibration"] == "isotonic"


def test_registry_show_prints_the_calibration(trained_settings: Settings, run_cli: RunCli) -> None:
    """`registry show` lists a calibrated version's method and both Brier scores."""
    options = workflow.training_options(trained_settings, calibration="sigmoid")
    workflow.train_step(trained_settings, options=options, force=True)
    shown = run_cli("registry", "show", "v2", "--home", trained_settings.home)
    assert shown.code == 0, shown.err
    assert "'calibration': 'sigmoid'" in shown.out
    assert "metrics.brier_uncalibrated" in shown.out and "metrics.brier " in shown.out
