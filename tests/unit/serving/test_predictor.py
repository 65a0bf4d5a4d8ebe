"""The hot-swappable model: verified before it is published, old model kept on failure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churnops.registry.lifecycle import switch
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA, CategoricalFeature, FeatureSchema, NumericFeature
from churnops.serving.predictor import Predictor
from churnops.settings import Settings


def test_empty_registry_is_not_an_error(tmp_path: Path, settings: Settings) -> None:
    """With no current model it loads nothing, reports no error and stays not ready."""
    empty = settings.model_copy(update={"home": tmp_path / "empty"})
    predictor = Predictor(empty, DEFAULT_SCHEMA)
    outcome = predictor.refresh()
    assert (outcome.changed, outcome.version, outcome.error) == (False, None, None)
    assert predictor.current is None and predictor.last_reload_error is None


def test_loads_the_current_version_and_scores_like_the_registry(settings: Settings) -> None:
    """It serves the pointer's version, with the probabilities recorded on its hold-out."""
    predictor = Predictor(settings, DEFAULT_SCHEMA)
    assert predictor.refresh().changed
    loaded = predictor.current
    assert loaded is not None and loaded.version == 1
    holdout = pd.read_parquet(Registry(settings).version_dir(1) / "holdout.parquet").head(200)
    columns = {name: holdout[name].tolist() for name in DEFAULT_SCHEMA.feature_names}
    scores = loaded.predict(loaded.encoder.encode_columns(columns))
    np.testing.assert_allclose(scores, holdout["prediction"], atol=1e-5)
    assert not predictor.refresh().changed  # same pointer: nothing to do


def test_swaps_the_reference_when_the_pointer_moves(two_versions: Settings) -> None:
    """A promotion replaces the reference; an object taken before keeps the old model."""
    predictor = Predictor(two_versions, DEFAULT_SCHEMA)
    predictor.refresh()
    before = predictor.current
    switch(two_versions, "promote", 2, "test")
    outcome = predictor.refresh()
    assert (outcome.changed, outcome.version) == (True, 2)
    assert before is not None and before.version == 1  # an in-flight request's model
    assert predictor.current is not None and predictor.current is not before
    assert predictor.reloads == 2


def test_a_corrupted_model_is_refused_and_the_old_one_keeps_serving(
    two_versions: Settings,
) -> None:
    """It refuses a version whose ONNX file changed since registration, and keeps v1."""
    predictor = Predictor(two_versions, DEFAULT_SCHEMA)
    predictor.refresh()
    switch(two_versions, "promote", 2, "test")
    registry = Registry(two_versions)
    onnx = registry.onnx_path(registry.require(registry.read(), 2))
    onnx.write_bytes(onnx.read_bytes()[:-10])
    outcome = predictor.refresh()
    assert not outcome.changed and outcome.version == 1
    assert outcome.error is not None and "SHA-256" in outcome.error
    assert predictor.current is not None and predictor.current.version == 1
    assert predictor.last_reload_error is not None and predictor.reload_failures == 1
    predictor.refresh()  # the same broken pointer is not verified again on every poll
    assert predictor.reload_failures == 1
    predictor.refresh(force=True)  # unless forced
    assert predictor.reload_failures == 2


def test_a_model_trained_on_other_features_is_refused(settings: Settings) -> None:
    """A model whose features differ from the ones this API validates is never served."""
    other = FeatureSchema(
        numeric=(NumericFeature(name="age", kind="float", min=0, max=1),),
        categorical=(CategoricalFeature(name="plan", categories=("a", "b")),),
    )
    predictor = Predictor(settings, other)
    outcome = predictor.refresh()
    assert predictor.current is None
    assert outcome.error is not None and "trained on features" in outcome.error


def test_a_pointer_naming_an_unknown_file_is_refused(settings: Settings) -> None:
    """current_model.txt edited by hand to an unregistered file is refused."""
    Registry(settings).pointer_path.write_text("churn_model_v9_20250101_000000.joblib\n")
    predictor = Predictor(settings, DEFAULT_SCHEMA)
    outcome = predictor.refresh()
    assert predictor.current is None
    assert outcome.error is not None and "does not list" in outcome.error
