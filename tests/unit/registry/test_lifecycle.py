"""Registering versions, the promotion gate, verification, promotion and rollback."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from churnops.atomic import sha256_file
from churnops.errors import BadInputError, CheckFailedError
from churnops.model.export import MAX_PARITY_GAP
from churnops.model.train import Trained
from churnops.registry.entries import HistoryEvent
from churnops.registry.lifecycle import TRAINED_ON, Registered
from churnops.registry.promotion import previous_current, switch, verify
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA
from churnops.settings import Settings, load_settings

AddVersion = Callable[..., Registered]
Snapshot = Callable[[], dict[str, bytes | None]]
STEM = r"churn_model_v{}_\d{{8}}_\d{{6}}"


# ---- what a registered version records ------------------------------------------------------
def test_metadata_records_every_field(trained_settings: Settings) -> None:
    """metadata.json holds, for v1, every documented field with real values."""
    raw = json.loads((trained_settings.registry_dir / "metadata.json").read_text("utf-8"))
    assert raw["current_version"] == 1
    (entry,) = raw["versions"]
    assert entry["version"] == 1
    assert entry["status"] == "current"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["created_at"])
    assert entry["hyperparameters"] == {
        "n_estimators": 60,
        "max_depth": trained_settings.max_depth,
        "min_samples_leaf": trained_settings.min_samples_leaf,
        "max_features": trained_settings.max_features,
    }
    assert entry["feature_schema"] == DEFAULT_SCHEMA.model_dump(mode="json")
    processed = trained_settings.processed_csv
    data = entry["training_data"]
    assert data["path"].endswith("data/processed.csv")
    assert data["sha256"] == sha256_file(processed)
    assert data["rows"] == len(pd.read_csv(processed))
    assert set(entry["libraries"]) >= {"python", "scikit-learn", "pandas", "numpy"}
    assert "git_commit" in entry
    assert entry["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", entry["git_commit"])
    assert entry["seed"] == trained_settings.seed
    assert entry["threshold"] == trained_settings.decision_threshold
    assert entry["gate"]["passed"] is True
    assert entry["gate"]["forced"] is False
    metrics = entry["metrics"]
    assert {"accuracy", "precision", "recall", "f1", "roc_auc", "confusion_matrix"} <= set(metrics)
    assert 0 <= metrics["onnx_parity_max_abs_diff"] <= MAX_PARITY_GAP
    assert 0.5 < metrics["oracle_roc_auc"] < 1


def test_artifacts_are_named_hashed_and_agree(registry: Registry) -> None:
    """models/ holds churn_model_v1_<UTC stamp>.joblib and .onnx whose SHA-256 are the
    registered ones, and the pickled pipeline and the ONNX graph give the same probabilities."""
    entry = registry.read().versions[0]
    assert re.fullmatch(STEM.format(1) + r"\.joblib", entry.file)
    assert entry.onnx_file == entry.file.removesuffix(".joblib") + ".onnx"
    assert sha256_file(registry.artifact_path(entry)) == entry.sha256
    assert sha256_file(registry.onnx_path(entry)) == entry.onnx_sha256
    sample = pd.read_parquet(registry.version_dir(1) / "reference.parquet").head(200)
    pipeline = joblib.load(registry.artifact_path(entry))
    expected = pipeline.predict_proba(sample[DEFAULT_SCHEMA.feature_names])[:, 1]
    served = verify(registry, entry).predict_frame(sample)
    np.testing.assert_allclose(served, expected, rtol=0, atol=MAX_PARITY_GAP)


def test_pointer_names_the_current_artifact(registry: Registry) -> None:
    """current_model.txt holds the current version's .joblib file name."""
    state = registry.read()
    assert state.current is not None
    assert registry.pointer() == state.current.file
    assert registry.pointer_path.read_text("utf-8") == state.current.file + "\n"


def test_training_statistics(registry: Registry, trained_settings: Settings) -> None:
    """train_stats.json has per-feature summaries, missing rates, the label rate and the
    prediction distribution; registry/train_stats.json is the current version's copy."""
    per_version = registry.version_dir(1) / "train_stats.json"
    assert registry.stats_path.read_bytes() == per_version.read_bytes()
    stats = json.loads(per_version.read_text("utf-8"))
    train_rows = round(len(pd.read_csv(trained_settings.processed_csv)) * 0.8)
    assert stats["version"] == 1
    assert stats["rows"] == train_rows
    assert 0.15 < stats["label_rate"] < 0.35
    for name in DEFAULT_SCHEMA.numeric_names:
        summary = stats["numeric"][name]
        assert {"count", "mean", "std", "min", "max", "quantiles", "histogram"} <= set(summary)
        assert summary["count"] == train_rows
        assert sum(summary["histogram"]["counts"]) == train_rows
    for feature in DEFAULT_SCHEMA.categorical:
        frequencies = stats["categorical"][feature.name]["frequencies"]
        assert set(frequencies) <= set(feature.categories)
        assert sum(frequencies.values()) == pytest.approx(1)
    assert stats["missing_rates"] == dict.fromkeys(DEFAULT_SCHEMA.feature_names, 0.0)
    prediction = stats["prediction"]
    assert prediction["histogram"]["edges"][0] == 0 and prediction["histogram"]["edges"][-1] == 1
    assert 0 < prediction["mean"] < 1


def test_reference_and_hold_out_samples(registry: Registry, trained_settings: Settings) -> None:
    """versions/v1 holds a reference sample of training rows, the hold-out with its customer ids
    and the model's probability of each row, and the ids of the customers trained on."""
    folder = registry.version_dir(1)
    columns = [*DEFAULT_SCHEMA.feature_names, DEFAULT_SCHEMA.label]
    reference = pd.read_parquet(folder / "reference.parquet")
    holdout = pd.read_parquet(folder / "holdout.parquet")
    entry = registry.read().versions[0]
    train_rows = entry.training_data.rows - len(holdout)
    assert list(reference.columns) == columns
    assert len(reference) == min(trained_settings.reference_sample_rows, train_rows)
    assert list(holdout.columns) == [DEFAULT_SCHEMA.id_column, *columns, "prediction"]
    assert len(holdout) == entry.metrics["rows"]
    trained_on = pd.read_parquet(folder / TRAINED_ON)[DEFAULT_SCHEMA.id_column]
    assert len(trained_on) == train_rows and trained_on.is_unique
    assert not set(trained_on) & set(holdout[DEFAULT_SCHEMA.id_column])
    served = verify(registry, entry).predict_frame(holdout)
    np.testing.assert_allclose(holdout["prediction"], served, rtol=0, atol=MAX_PARITY_GAP)


# ---- the promotion gate ---------------------------------------------------------------------
def test_a_version_that_passes_the_gate_becomes_current(
    add_version: AddVersion, registry: Registry
) -> None:
    """An equally good model becomes v2 and current; v1 is archived."""
    result = add_version()
    assert (result.entry.version, result.promoted, result.entry.status) == (2, True, "current")
    state = registry.read()
    assert [v.status for v in state.versions] == ["archived", "current"]
    assert registry.pointer() == result.entry.file
    assert registry.history()[-1].action == "register"


def test_below_the_minimum_auc_is_rejected(
    add_version: AddVersion, registry: Registry, snapshot: Snapshot
) -> None:
    """Below min AUC the version is registered as rejected, v1 stays current with the same
    pointer and statistics, and history records a reject event."""
    before = snapshot()
    result = add_version(min_auc=0.99)
    assert not result.promoted
    assert result.entry.status == "rejected"
    assert result.entry.gate["passed"] is False and result.entry.gate["forced"] is False
    assert "below the minimum 0.99" in str(result.entry.gate["failure"])
    state = registry.read()
    assert state.current_version == 1
    after = snapshot()
    assert after["current_model.txt"] == before["current_model.txt"]
    assert after["train_stats.json"] == before["train_stats.json"]
    assert registry.history()[-1].action == "reject"
    assert registry.history()[-1].seq == 2


def test_the_reject_event_names_the_rejected_version(
    add_version: AddVersion, registry: Registry
) -> None:
    """The audit history says which version the gate rejected."""
    add_version(min_auc=0.99)
    event = registry.history()[-1]
    assert event.to_version == 2 or "v2" in event.reason


def test_force_overrides_the_gate_and_is_recorded(
    add_version: AddVersion, registry: Registry
) -> None:
    """--force makes a failing version current and records the override."""
    result = add_version(force=True, min_auc=0.99)
    assert result.promoted
    gate = result.entry.gate
    assert (gate["min_auc"], gate["passed"], gate["forced"]) == (0.99, False, True)
    assert "below the minimum 0.99" in str(gate["failure"])
    assert result.entry.status == "current"
    assert registry.read().current_version == 2
    assert registry.history()[-1].reason.startswith("forced past the gate")


def test_force_on_a_passing_version_is_not_an_override(add_version: AddVersion) -> None:
    """--force on a version that passes anyway records no override."""
    assert add_version(force=True).entry.gate["forced"] is False


def test_a_large_auc_drop_is_rejected(
    add_version: AddVersion, weak: Trained, registry: Registry
) -> None:
    """A version whose AUC falls more than max_auc_drop behind the current one is rejected,
    even above the minimum AUC."""
    result = add_version(weak, min_auc=0.0)
    assert result.entry.metrics["roc_auc"] < registry.read().versions[0].metrics["roc_auc"] - 0.02
    assert not result.promoted
    assert "falls behind current v1" in str(result.entry.gate["failure"])
    assert registry.read().current_version == 1


def test_a_current_version_without_auc_does_not_break_the_gate(
    add_version: AddVersion, weak: Trained
) -> None:
    """After a version with no recorded AUC was forced current, the next version is judged on
    the minimum AUC alone instead of crashing."""
    unlabelled = dataclasses.replace(weak, metrics={**weak.metrics, "roc_auc": None})
    assert add_version(unlabelled, force=True).promoted
    assert add_version().promoted


def test_the_allowed_drop_is_configurable(add_version: AddVersion, weak: Trained) -> None:
    """With max_auc_drop=1 the same weaker model is accepted."""
    assert add_version(weak, min_auc=0.0, max_auc_drop=1.0).promoted


# ---- verification ---------------------------------------------------------------------------
def _flip_a_byte(path_bytes: bytes) -> bytes:
    middle = len(path_bytes) // 2
    return path_bytes[:middle] + bytes([path_bytes[middle] ^ 0xFF]) + path_bytes[middle + 1 :]


@pytest.mark.parametrize("which", ["onnx", "joblib"])
def test_verify_refuses_a_flipped_byte(registry: Registry, which: str) -> None:
    """A single changed byte in either artifact fails the SHA-256 check."""
    entry = registry.read().versions[0]
    path = registry.onnx_path(entry) if which == "onnx" else registry.artifact_path(entry)
    path.write_bytes(_flip_a_byte(path.read_bytes()))
    with pytest.raises(CheckFailedError, match="does not match its registered SHA-256"):
        verify(registry, entry)


def test_verify_refuses_a_missing_file(registry: Registry) -> None:
    """A deleted artifact is refused by name."""
    entry = registry.read().versions[0]
    registry.onnx_path(entry).unlink()
    with pytest.raises(CheckFailedError, match="is missing"):
        verify(registry, entry)


def test_verify_refuses_a_graph_that_does_not_load(registry: Registry) -> None:
    """A file with the right hash that is not a model (registered by hand) is refused."""
    entry = registry.read().versions[0]
    path = registry.onnx_path(entry)
    path.write_bytes(b"not an onnx graph")
    entry.onnx_sha256 = sha256_file(path)
    with pytest.raises(CheckFailedError, match="does not load or predict"):
        verify(registry, entry)


# ---- promote and roll back ------------------------------------------------------------------
def test_rollback_then_promote(
    add_version: AddVersion, trained_settings: Settings, registry: Registry
) -> None:
    """Rollback returns to the previous current version; promote moves forward again; each
    move is in the history with its reason."""
    add_version()
    settings = trained_settings
    previous, entry = switch(settings, "rollback", None, "bad latency")
    assert (previous and previous.version, entry.version) == (2, 1)
    assert registry.pointer() == entry.file
    assert registry.read().current_version == 1
    previous, entry = switch(settings, "promote", 2, "fixed")
    assert (previous and previous.version, entry.version) == (1, 2)
    events = registry.history()
    assert [(e.action, e.from_version, e.to_version, e.reason) for e in events[-2:]] == [
        ("rollback", 2, 1, "bad latency"),
        ("promote", 1, 2, "fixed"),
    ]
    assert [e.seq for e in events] == [1, 2, 3, 4]


def test_second_rollback_goes_one_further_back(
    add_version: AddVersion, trained_settings: Settings, registry: Registry
) -> None:
    """From v3, rollback goes to v2, and a second rollback to v1."""
    add_version()
    add_version()
    assert switch(trained_settings, "rollback", None, "r")[1].version == 2
    assert switch(trained_settings, "rollback", None, "r")[1].version == 1
    with pytest.raises(CheckFailedError, match="no earlier current version"):
        switch(trained_settings, "rollback", None, "r")


def test_refusals_change_nothing(
    add_version: AddVersion, trained_settings: Settings, registry: Registry, snapshot: Snapshot
) -> None:
    """A corrupted, missing, rejected, unknown or already-current target is refused and every
    registry file keeps its bytes."""
    add_version()
    rejected = add_version(min_auc=0.99).entry
    v1 = registry.read().versions[0]
    registry.onnx_path(v1).write_bytes(_flip_a_byte(registry.onnx_path(v1).read_bytes()))
    before = snapshot()
    refusals: list[tuple[str, int | None, type[Exception], str]] = [
        ("rollback", None, CheckFailedError, "SHA-256"),
        ("promote", 1, CheckFailedError, "SHA-256"),
        ("promote", rejected.version, CheckFailedError, "--force"),
        ("promote", 2, CheckFailedError, "already the current version"),
        ("promote", 99, BadInputError, "no model version v99"),
    ]
    for action, target, error, message in refusals:
        with pytest.raises(error, match=message):
            switch(trained_settings, action, target, "test")
        assert snapshot() == before, (action, target)


def test_a_rejected_version_can_be_forced(
    add_version: AddVersion, trained_settings: Settings
) -> None:
    """promote --force accepts a gate-rejected version and records the override."""
    rejected = add_version(min_auc=0.99).entry
    _, entry = switch(trained_settings, "promote", rejected.version, "manual", force=True)
    assert entry.status == "current"
    assert entry.gate["forced"] is True


@pytest.mark.parametrize(("action", "target"), [("rollback", None), ("promote", 1)])
def test_switch_on_an_empty_registry(tmp_path: Path, action: str, target: int | None) -> None:
    """With nothing registered, promote and rollback say to train first."""
    with pytest.raises(BadInputError, match="churnops train"):
        switch(load_settings(home=tmp_path), action, target, "r")


def _event(seq: int, action: str, to: int | None) -> HistoryEvent:
    return HistoryEvent.model_validate(
        {
            "seq": seq,
            "time": "2025-01-01T00:00:00Z",
            "action": action,
            "from_version": None,
            "to_version": to,
            "reason": "",
            "user": "test",
        }
    )


@pytest.mark.parametrize(
    ("events", "stack"),
    [
        ([("register", 1), ("register", 2), ("register", 3)], [1, 2, 3]),
        ([("register", 1), ("register", 2), ("rollback", 1)], [1]),
        ([("register", 1), ("register", 2), ("rollback", 1), ("promote", 2)], [1, 2]),
        ([("register", 1), ("reject", 1), ("register", 3)], [1, 3]),
        ([("register", 1), ("register", 2), ("register", 3), ("rollback", 1)], [1]),
        ([("register", 1), ("promote", 1)], [1]),
        ([("register", 2), ("rollback", 1)], [2, 1]),
    ],
)
def test_previous_current_follows_the_history(
    events: list[tuple[str, int]], stack: list[int]
) -> None:
    """The rollback stack is the versions made current, minus those rolled back over."""
    history = [_event(i + 1, action, to) for i, (action, to) in enumerate(events)]
    assert previous_current(history) == stack
