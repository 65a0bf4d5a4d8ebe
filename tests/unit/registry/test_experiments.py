"""Starting and stopping experiments: registry commits, and every refusal leaves the registry
byte for byte as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import registry_bytes

from churnops import workflow
from churnops.errors import BadInputError, CheckFailedError
from churnops.model.train import Trained
from churnops.registry.experiments import start_experiment, stop_experiment
from churnops.registry.lifecycle import register
from churnops.registry.promotion import switch
from churnops.registry.store import Registry
from churnops.settings import Settings


def test_start_records_the_experiment_and_its_history_event(
    experiment_settings: Settings,
) -> None:
    experiment = start_experiment(experiment_settings, 1, "ab", 25, "try the forest")
    registry = Registry(experiment_settings)
    state = registry.read()
    assert state.experiment == experiment
    event = registry.history()[-1]
    assert experiment.id == f"exp{event.seq}"
    assert (event.action, event.from_version, event.to_version) == ("experiment_start", 2, 1)
    assert "v1 answers 25 % of customers" in event.reason and "try the forest" in event.reason
    assert (experiment.champion, experiment.challenger, experiment.share) == (2, 1, 25)


def test_an_ab_experiment_defaults_to_ten_percent(experiment_settings: Settings) -> None:
    assert start_experiment(experiment_settings, 1).share == 10


@pytest.mark.parametrize(
    ("challenger", "mode", "share", "error", "words"),
    [
        (9, "ab", None, BadInputError, "there is no model version v9"),
        (2, "ab", None, BadInputError, "v2 is the champion"),
        (1, "ab", 0, BadInputError, "between 0.01 and 99.99"),
        (1, "ab", 100, BadInputError, "between 0.01 and 99.99"),
        (1, "ab", -5, BadInputError, "between 0.01 and 99.99"),
        (1, "ab", float("nan"), BadInputError, "between 0.01 and 99.99"),
        (1, "ab", float("inf"), BadInputError, "between 0.01 and 99.99"),
        (1, "shadow", 10, BadInputError, "a shadow experiment has no share"),
    ],
)
def test_bad_starts_change_nothing(
    experiment_settings: Settings,
    challenger: int,
    mode: str,
    share: float | None,
    error: type[Exception],
    words: str,
) -> None:
    before = registry_bytes(experiment_settings.home)
    with pytest.raises(error, match=words):
        start_experiment(experiment_settings, challenger, mode, share)  # type: ignore[arg-type]
    assert registry_bytes(experiment_settings.home) == before


def test_a_corrupted_challenger_is_refused(experiment_settings: Settings) -> None:
    registry = Registry(experiment_settings)
    onnx = registry.onnx_path(registry.require(registry.read(), 1))
    onnx.write_bytes(onnx.read_bytes()[:-10])
    before = registry_bytes(experiment_settings.home)
    with pytest.raises(CheckFailedError, match=r"v1 refused: .* does not match its registered"):
        start_experiment(experiment_settings, 1)
    assert registry_bytes(experiment_settings.home) == before


def test_a_rejected_challenger_is_refused(experiment_settings: Settings) -> None:
    """A version the promotion gate rejected cannot challenge (here: v1 edited to rejected)."""
    registry = Registry(experiment_settings)
    raw = json.loads(registry.metadata_path.read_text())
    raw["versions"][0]["status"] = "rejected"
    raw["versions"][0]["gate"]["failure"] = "ROC AUC too low"
    registry.metadata_path.write_text(json.dumps(raw))
    before = registry_bytes(experiment_settings.home)
    with pytest.raises(CheckFailedError, match="v1 was rejected by the promotion gate"):
        start_experiment(experiment_settings, 1)
    assert registry_bytes(experiment_settings.home) == before


def test_a_challenger_with_other_features_is_refused(experiment_settings: Settings) -> None:
    registry = Registry(experiment_settings)
    raw = json.loads(registry.metadata_path.read_text())
    schema = raw["versions"][0]["feature_schema"]
    schema["numeric"] = schema["numeric"][:2]
    registry.metadata_path.write_text(json.dumps(raw))
    before = registry_bytes(experiment_settings.home)
    with pytest.raises(CheckFailedError, match="takes other features than the champion v2"):
        start_experiment(experiment_settings, 1)
    assert registry_bytes(experiment_settings.home) == before


def test_one_experiment_at_a_time(experiment_settings: Settings) -> None:
    first = start_experiment(experiment_settings, 1, "shadow")
    before = registry_bytes(experiment_settings.home)
    with pytest.raises(CheckFailedError, match=f"experiment {first.id} is already running"):
        start_experiment(experiment_settings, 1)
    assert registry_bytes(experiment_settings.home) == before


def test_nothing_may_change_the_champion_while_it_runs(
    experiment_settings: Settings, tmp_path: Path
) -> None:
    """Promote, rollback and train are refused with a clear message, registry unchanged."""
    experiment = start_experiment(experiment_settings, 1)
    before = registry_bytes(experiment_settings.home)
    for action, doing in (("promote", "promotion"), ("rollback", "rollback")):
        with pytest.raises(CheckFailedError, match=f"{doing} refused: experiment {experiment.id}"):
            switch(experiment_settings, action, 1, "test")
    with pytest.raises(CheckFailedError, match=r"training refused: .*experiment stop"):
        workflow.train_step(experiment_settings)
    assert registry_bytes(experiment_settings.home) == before


def test_stop_returns_traffic_to_the_champion(experiment_settings: Settings) -> None:
    experiment = start_experiment(experiment_settings, 1)
    stopped = stop_experiment(experiment_settings, False, "verdict no detectable difference")
    registry = Registry(experiment_settings)
    state = registry.read()
    assert stopped.promoted is None and state.experiment is None and state.current_version == 2
    event = registry.history()[-1]
    assert (event.action, event.from_version, event.to_version) == ("experiment_stop", 2, 1)
    assert event.reason.startswith(f"{experiment.id} stopped (verdict no detectable difference)")
    assert "all traffic back to v2" in event.reason


def test_stop_and_promote_records_the_verdict(experiment_settings: Settings) -> None:
    experiment = start_experiment(experiment_settings, 1, "shadow")
    stopped = stop_experiment(experiment_settings, True, "verdict challenger better: +0.1")
    registry = Registry(experiment_settings)
    assert stopped.promoted is not None and registry.read().current_version == 1
    assert registry.pointer() == stopped.promoted.file
    stop, promote = registry.history()[-2:]
    assert stop.action == "experiment_stop" and promote.action == "promote"
    assert (promote.from_version, promote.to_version) == (2, 1)
    # the verdict says whether it won: a forced or early promotion is not called a win
    assert promote.reason == (
        f"challenger of experiment {experiment.id}: verdict challenger better: +0.1"
    )


def test_stop_without_an_experiment_or_with_a_broken_challenger(
    experiment_settings: Settings,
) -> None:
    """Nothing to stop: refused. A challenger corrupted during the experiment: promotion is
    refused before anything is written, and the experiment keeps running."""
    with pytest.raises(CheckFailedError, match="no experiment is running"):
        stop_experiment(experiment_settings, False, "v")
    start_experiment(experiment_settings, 1)
    registry = Registry(experiment_settings)
    artifact = registry.artifact_path(registry.require(registry.read(), 1))
    artifact.write_bytes(b"garbage")
    before = registry_bytes(experiment_settings.home)
    with pytest.raises(CheckFailedError, match="v1 refused"):
        stop_experiment(experiment_settings, True, "v")
    assert registry_bytes(experiment_settings.home) == before
    assert registry.read().experiment is not None


def test_registering_is_refused_while_it_runs(
    experiment_settings: Settings, retrained: Trained
) -> None:
    """The in-lock guard of register(): a version that would be promoted past the champion
    is not written at all (no artifact, no number used)."""
    start_experiment(experiment_settings, 1)
    registry = Registry(experiment_settings)
    before = registry_bytes(experiment_settings.home)
    models = sorted(p.name for p in experiment_settings.models_dir.iterdir())
    with pytest.raises(CheckFailedError, match="registering a new version refused"):
        register(experiment_settings, retrained, experiment_settings.processed_csv)
    assert registry_bytes(experiment_settings.home) == before
    assert sorted(p.name for p in experiment_settings.models_dir.iterdir()) == models
    assert registry.read().last_version == 2
