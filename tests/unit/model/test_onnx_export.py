"""The ONNX export: one float input, the same probabilities as scikit-learn, refused otherwise."""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from churnops.data.generate import generate
from churnops.errors import CheckFailedError
from churnops.model.export import MAX_PARITY_GAP, check_parity, export_onnx, two_class
from churnops.model.onnx_model import INPUT_NAME, PROBABILITY_OUTPUT, OnnxModel
from churnops.model.train import build_pipeline
from churnops.schema import DEFAULT_SCHEMA


def _fit(frame: pd.DataFrame, seed: int) -> Pipeline:
    pipeline = build_pipeline(DEFAULT_SCHEMA, {"n_estimators": 15, "max_depth": 6}, seed)
    pipeline.fit(frame[DEFAULT_SCHEMA.feature_names], frame["churn"])
    return pipeline


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate(1_500, seed=21, dirt=False).frame


@pytest.fixture(scope="module")
def pipeline(frame: pd.DataFrame) -> Pipeline:
    return _fit(frame, seed=1)


@pytest.fixture(scope="module")
def model(pipeline: Pipeline) -> OnnxModel:
    return OnnxModel(export_onnx(pipeline, DEFAULT_SCHEMA), DEFAULT_SCHEMA)


def test_graph_takes_one_float_matrix(model: OnnxModel) -> None:
    """The graph has one float input named 'features', as wide as the encoded schema."""
    (graph_input,) = model.session.get_inputs()
    assert graph_input.name == INPUT_NAME
    assert graph_input.type == "tensor(float)"
    assert graph_input.shape[1] == len(DEFAULT_SCHEMA.encoded_names)


def test_graph_gives_the_churn_probability_alone(model: OnnxModel) -> None:
    """One output, the churn probability: a single-target tree ensemble."""
    (output,) = model.session.get_outputs()
    assert output.name == PROBABILITY_OUTPUT
    assert output.shape[1] == 1


def test_the_single_output_graph_is_the_classifier_graph_exactly(pipeline: Pipeline) -> None:
    """The rewritten graph gives bit for bit the churn column of skl2onnx's classifier graph,
    which is also still read as such: versions exported before the rewrite serve unchanged."""
    width = len(DEFAULT_SCHEMA.encoded_names)
    classifier = two_class(pipeline.named_steps["model"], width)
    older = OnnxModel(classifier.SerializeToString(), DEFAULT_SCHEMA)
    current = OnnxModel(export_onnx(pipeline, DEFAULT_SCHEMA), DEFAULT_SCHEMA)
    fresh = DEFAULT_SCHEMA.encode(generate(5_000, seed=5, dirt=False).frame)
    for rows in (fresh, fresh[:1]):
        np.testing.assert_array_equal(current.predict_matrix(rows), older.predict_matrix(rows))


def test_the_graph_keeps_skl2onnx_file_format_version(pipeline: Pipeline) -> None:
    """Not the newest format the installed onnx package knows: an ONNX Runtime older than the
    training install's onnx (allowed by the declared ranges) must load it."""
    forest = pipeline.named_steps["model"]
    width = len(DEFAULT_SCHEMA.encoded_names)
    exported = onnx.load_from_string(export_onnx(pipeline, DEFAULT_SCHEMA))
    assert exported.ir_version == two_class(forest, width).ir_version


def test_session_uses_one_thread(model: OnnxModel) -> None:
    """Each worker's session runs on one intra-op thread: no oversubscription."""
    options = model.session.get_session_options()
    assert options.intra_op_num_threads == 1


def test_onnx_matches_scikit_learn(pipeline: Pipeline, model: OnnxModel) -> None:
    """On fresh customers the served probabilities match scikit-learn's within 1e-5."""
    fresh = generate(3_000, seed=99, dirt=False).frame
    gap = check_parity(pipeline, model, fresh)
    assert gap <= MAX_PARITY_GAP
    expected = pipeline.predict_proba(fresh[DEFAULT_SCHEMA.feature_names])[:, 1]
    np.testing.assert_allclose(model.predict_frame(fresh), expected, rtol=0, atol=MAX_PARITY_GAP)


def test_refuses_an_export_that_disagrees(frame: pd.DataFrame, pipeline: Pipeline) -> None:
    """A graph that does not reproduce the pipeline is refused before anything is registered."""
    other = OnnxModel(export_onnx(_fit(frame, seed=2), DEFAULT_SCHEMA), DEFAULT_SCHEMA)
    with pytest.raises(CheckFailedError, match="not registered"):
        check_parity(pipeline, other, frame)


def test_predict_matrix_returns_churn_probabilities(model: OnnxModel, frame: pd.DataFrame) -> None:
    """It returns one probability per row, between 0 and 1, from any numeric matrix."""
    matrix = DEFAULT_SCHEMA.encode(frame.head(7))
    proba = model.predict_matrix(matrix)
    assert proba.shape == (7,)
    assert proba.dtype == np.float64
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_array_equal(proba, model.predict_matrix(matrix.astype(np.float32)))


@pytest.mark.parametrize(
    "keep",
    [("tenure", "monthly_charges"), ("contract_type", "payment_method"), ("tenure",)],
    ids=["numeric-only", "categorical-only", "one-feature"],
)
def test_any_declared_schema_exports_with_parity(
    frame: pd.DataFrame, keep: tuple[str, ...]
) -> None:
    """A schema of numeric features only, categorical ones only, or a single feature trains,
    exports and serves the same probabilities as scikit-learn."""
    schema = DEFAULT_SCHEMA.model_copy(
        update={
            "numeric": tuple(f for f in DEFAULT_SCHEMA.numeric if f.name in keep),
            "categorical": tuple(f for f in DEFAULT_SCHEMA.categorical if f.name in keep),
            "rules": (),
        }
    )
    pipeline = build_pipeline(schema, {"n_estimators": 10, "max_depth": 5}, seed=3)
    pipeline.fit(frame[schema.feature_names], frame["churn"])
    model = OnnxModel(export_onnx(pipeline, schema), schema)
    assert check_parity(pipeline, model, frame) <= MAX_PARITY_GAP
    np.testing.assert_array_equal(
        schema.encode(frame), pipeline.named_steps["preprocess"].transform(frame[list(keep)])
    )
