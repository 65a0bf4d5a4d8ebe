"""The hot-swappable model: verified before it is published, old model kept on failure."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from serving_support import inputs_for, register_other_schema, table_schema

from churnops import logstore
from churnops.atomic import atomic_write_json
from churnops.registry.promotion import switch
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA
from churnops.serving.predictor import Predictor
from churnops.settings import Settings


def test_empty_registry_is_not_an_error(tmp_path: Path, settings: Settings) -> None:
    """With no current model it loads nothing, reports no error and stays not ready."""
    empty = settings.model_copy(update={"home": tmp_path / "empty"})
    predictor = Predictor(empty, inputs_for)
    outcome = predictor.refresh()
    assert (outcome.changed, outcome.version, outcome.error) == (False, None, None)
    assert predictor.current is None and predictor.last_reload_error is None


def test_loads_the_current_version_and_scores_like_the_registry(settings: Settings) -> None:
    """It serves the pointer's version, with the probabilities recorded on its hold-out."""
    predictor = Predictor(settings, inputs_for)
    assert predictor.refresh().changed
    loaded = predictor.current
    assert loaded is not None and loaded.version == 1
    holdout = pd.read_parquet(Registry(settings).version_dir(1) / "holdout.parquet").head(200)
    columns = {name: holdout[name].tolist() for name in DEFAULT_SCHEMA.feature_names}
    scores = loaded.predict(loaded.inputs.encoder.encode_columns(columns))
    np.testing.assert_allclose(scores, holdout["prediction"], atol=1e-5)
    assert not predictor.refresh().changed  # same pointer: nothing to do


def test_swaps_the_reference_when_the_pointer_moves(two_versions: Settings) -> None:
    """A promotion replaces the reference; an object taken before keeps the old model."""
    predictor = Predictor(two_versions, inputs_for)
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
    predictor = Predictor(two_versions, inputs_for)
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


def test_a_version_of_another_schema_swaps_in_with_its_own_inputs(two_versions: Settings) -> None:
    """Promoting a version trained on other features publishes it together with the request
    model, encoder and log layout of its schema; a retrain of the same schema reuses them."""
    home = two_versions.home
    other = register_other_schema(home, "minimal")
    predictor = Predictor(two_versions, inputs_for)
    predictor.refresh()
    before = predictor.current
    assert before is not None and before.inputs.schema == DEFAULT_SCHEMA
    switch(two_versions, "promote", other, "test", force=True)
    assert predictor.refresh().changed
    after = predictor.current
    assert after is not None and after.version == other
    assert after.inputs.schema == table_schema(home, "minimal")
    assert set(after.inputs.row_model.model_fields) == {"usage_hours", "plan", "customer_id"}
    assert after.inputs.log.names == tuple(logstore.columns(after.inputs.schema))
    row = after.inputs.row(b'{"usage_hours": "12.5", "plan": "Basic", "tenure": 3}')
    expected = after.model.predict_frame(pd.DataFrame([{"usage_hours": 12.5, "plan": "basic"}]))
    assert after.predict(after.inputs.encoder.encode_one(row)) == pytest.approx(expected)
    assert before.inputs.schema == DEFAULT_SCHEMA  # an in-flight request keeps its own
    switch(two_versions, "promote", 2, "test: back to a built-in version")
    predictor.refresh()
    again = predictor.current
    assert again is not None and again.inputs.schema == DEFAULT_SCHEMA


def test_a_pointer_naming_an_unknown_file_is_reported_not_followed(settings: Settings) -> None:
    """current_model.txt edited by hand to an unregistered file: metadata.json's current
    version serves, and the disagreement is reported."""
    Registry(settings).pointer_path.write_text("churn_model_v9_20250101_000000.joblib\n")
    predictor = Predictor(settings, inputs_for)
    outcome = predictor.refresh()
    assert outcome.error is None
    assert predictor.current is not None and predictor.current.version == 1
    assert predictor.pointer_warning is not None
    assert "churn_model_v9_20250101_000000.joblib" in predictor.pointer_warning


def _reject(settings: Settings, version: int) -> None:
    """Mark a version rejected by the promotion gate, as `train` records it."""
    registry = Registry(settings)
    with registry.transaction() as state:
        registry.require(state, version).status = "rejected"
        registry.commit(state, "reject", state.current_version, version, "test: rejected")


def test_a_rejected_version_named_by_the_pointer_is_never_served(two_versions: Settings) -> None:
    """Writing a rejected version's file into current_model.txt does not get it served (the
    promotion gate cannot be bypassed through the pointer); the API says the pointer is
    inconsistent and that any registry command repairs it."""
    _reject(two_versions, 2)
    registry = Registry(two_versions)
    rejected = registry.require(registry.read(), 2)
    predictor = Predictor(two_versions, inputs_for)
    predictor.refresh()
    registry.pointer_path.write_text(rejected.file + "\n")
    outcome = predictor.refresh()
    assert (outcome.changed, outcome.version, outcome.error) == (False, 1, None)
    assert predictor.current is not None and predictor.current.version == 1
    warning = predictor.pointer_warning
    assert warning is not None and rejected.file in warning and "repairs" in warning
    Registry(two_versions).read_synced()  # a registry command repairs the pointer
    predictor.refresh()
    assert predictor.pointer_warning is None


def test_after_a_kill_before_the_pointer_write_the_new_current_serves(
    two_versions: Settings,
) -> None:
    """A promotion killed between committing metadata.json and writing the pointer: the API
    serves the version metadata.json made current, without waiting for a repair."""
    registry = Registry(two_versions)
    predictor = Predictor(two_versions, inputs_for)
    predictor.refresh()
    state = registry.read()
    state.current_version = 2  # what `promote v2` commits first…
    atomic_write_json(registry.metadata_path, state.model_dump(mode="json"))
    assert registry.pointer() == registry.require(state, 1).file  # …the pointer not yet written
    outcome = predictor.refresh()
    assert (outcome.changed, outcome.version) == (True, 2)
    assert predictor.pointer_warning is not None


def test_a_reload_failure_clears_once_the_current_version_serves(two_versions: Settings) -> None:
    """A promoted version that fails verification leaves an error; rolling back to the
    version still serving clears it (the failure state does not stick forever)."""
    predictor = Predictor(two_versions, inputs_for)
    predictor.refresh()
    switch(two_versions, "promote", 2, "test")
    registry = Registry(two_versions)
    registry.onnx_path(registry.require(registry.read(), 2)).unlink()
    assert predictor.refresh().error is not None
    assert predictor.last_reload_error is not None
    switch(two_versions, "rollback", 1, "test: back to the version serving")
    outcome = predictor.refresh()
    assert (outcome.changed, outcome.version, outcome.error) == (False, 1, None)
    assert predictor.last_reload_error is None


def test_reload_errors_name_paths_relative_to_the_home(two_versions: Settings) -> None:
    """The reload error (shown unauthenticated in /model-info) does not reveal the server's
    folders: a missing file is named relative to the project home."""
    predictor = Predictor(two_versions, inputs_for)
    predictor.refresh()
    switch(two_versions, "promote", 2, "test")
    registry = Registry(two_versions)
    onnx = registry.onnx_path(registry.require(registry.read(), 2))
    onnx.unlink()
    predictor.refresh()
    error = predictor.last_reload_error
    assert error is not None and f"models/{onnx.name} is missing" in error
    assert str(two_versions.home) not in error and str(two_versions.home.resolve()) not in error


def test_an_unreadable_registry_is_logged_once_per_interval_then_its_return(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A registry that cannot be read (the database away; here the pointer file replaced by
    a folder) fails every poll: it used to log a warning on each; now one line per interval,
    and one line when the registry can be read again."""
    caplog.set_level(logging.INFO, logger="churnops.serving")
    predictor = Predictor(settings, inputs_for)
    predictor.refresh()
    pointer = Registry(settings).pointer_path
    name = pointer.read_text(encoding="utf-8")
    pointer.unlink()
    pointer.mkdir()
    for _ in range(5):
        assert predictor.refresh().error is not None
    failures = [r for r in caplog.records if "model reload failed" in r.getMessage()]
    assert len(failures) == 1 and "cannot read the registry" in failures[0].getMessage()
    pointer.rmdir()
    pointer.write_text(name, encoding="utf-8")
    assert predictor.refresh().error is None
    assert predictor.current is not None and predictor.last_reload_error is None
    back = caplog.records[-1]
    assert back.levelname == "INFO" and "registry readable again" in back.getMessage()
    assert "5 check(s) failed" in back.getMessage()
