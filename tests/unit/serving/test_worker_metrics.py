"""Several workers' metrics: the folder `churnops serve` prepares, and a rule for every gauge.

(The aggregation itself needs real worker processes: tests/integration/test_metrics_workers.py.)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_support import RunCli

from churnops.errors import BadInputError
from churnops.registry.experiments import start_experiment
from churnops.serving.app import build_state
from churnops.serving.worker_metrics import FOLDER_VARIABLE, GAUGE_MODES, shared_folder
from churnops.settings import Settings


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What these tests set in the environment is undone after each."""
    monkeypatch.delenv(FOLDER_VARIABLE, raising=False)
    monkeypatch.setenv("CHURNOPS_HOME", os.environ.get("CHURNOPS_HOME", "."))


def test_one_worker_keeps_its_metrics_in_memory(tmp_path: Path) -> None:
    """--workers 1: no folder, nothing set for prometheus-client, nothing created."""
    with shared_folder(1, tmp_path / "metrics") as folder:
        assert folder is None and FOLDER_VARIABLE not in os.environ
    assert not (tmp_path / "metrics").exists()


def test_a_configured_folder_is_emptied_of_a_previous_runs_files(tmp_path: Path) -> None:
    """CHURNOPS_METRICS_DIR: its metric files go before the workers start (other files stay),
    and the workers are pointed at it."""
    configured = tmp_path / "metrics"
    configured.mkdir()
    (configured / "counter_4242.db").write_bytes(b"stale")
    (configured / "gauge_livesum_4242.db").write_bytes(b"stale")
    (configured / "notes.txt").write_text("kept")
    with shared_folder(2, configured) as folder:
        assert folder == configured
        assert os.environ[FOLDER_VARIABLE] == str(configured.resolve())
        assert sorted(path.name for path in configured.iterdir()) == ["notes.txt"]


def test_without_a_configured_folder_each_run_has_a_new_one(tmp_path: Path) -> None:
    """Unset: a new temporary folder per run, removed when the server has stopped."""
    with shared_folder(2, None) as first:
        assert first is not None and first.is_dir()
        assert os.environ[FOLDER_VARIABLE] == str(first.resolve())
    with shared_folder(2, None) as second:
        assert second != first
    assert not first.exists()


def test_the_folder_leaves_the_environment_when_the_block_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the server stops, this process no longer points prometheus-client at the folder
    (gone, for a temporary one): a later app built in it keeps its metrics in memory."""
    monkeypatch.delenv(FOLDER_VARIABLE, raising=False)
    with shared_folder(2, None):
        pass
    with shared_folder(2, tmp_path / "metrics"):
        pass
    assert FOLDER_VARIABLE not in os.environ
    monkeypatch.setenv(FOLDER_VARIABLE, "set before")
    with shared_folder(2, None):
        assert os.environ[FOLDER_VARIABLE] != "set before"
    assert os.environ[FOLDER_VARIABLE] == "set before"


def test_a_folder_that_cannot_be_used_is_one_line_and_exit_2(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CHURNOPS_METRICS_DIR naming a file: `churnops serve --workers 2` says so and exits 2
    before starting anything."""
    not_a_folder = tmp_path / "metrics"
    not_a_folder.write_text("a file")
    with pytest.raises(BadInputError, match="CHURNOPS_METRICS_DIR"), shared_folder(2, not_a_folder):
        pass
    monkeypatch.setenv("CHURNOPS_METRICS_DIR", str(not_a_folder))
    result = run_cli("serve", "--home", tmp_path, "--workers", "2", "--port", "1")
    assert result.code == 2
    assert str(not_a_folder) in result.err and "CHURNOPS_METRICS_DIR" in result.err
    assert "Traceback" not in result.err + result.out
    assert FOLDER_VARIABLE not in os.environ


def test_every_gauge_has_a_rule_for_several_workers(experiment_settings: Settings) -> None:
    """With everything present (a model, an A/B experiment, the log, connections), each gauge
    of the process's state has a multiprocess mode, and each mode names a real gauge (the
    process_* ones are not exposed with several workers; the drift and performance gauges are
    read from their files by the worker answering)."""
    start_experiment(experiment_settings, 1, "ab", 30)
    state = build_state(experiment_settings)
    state.predictor.refresh()
    assert state.predictor.serving is not None and state.predictor.serving.experiment is not None
    families = state.metrics.registry.collect()
    gauges = {f.name for f in families if f.type == "gauge" and f.name.startswith("churnops_")}
    assert gauges == set(GAUGE_MODES)
