"""train's opt-in options on the command line: a threshold from costs and calibration."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import RunCli, assert_one_line_error

from churnops.registry.store import Registry
from churnops.settings import load_settings


@pytest.fixture
def churnops(monkeypatch: pytest.MonkeyPatch, run_cli: RunCli) -> RunCli:
    """``churnops ARGS…`` in-process, with small forests so training is quick."""
    monkeypatch.setenv("CHURNOPS_N_ESTIMATORS", "20")
    return run_cli


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--threshold-by", "cost"], ["--threshold-by cost needs", "--cost-fn and --cost-fp"]),
        (["--cost-fn", "200"], ["--cost-fp is missing"]),
        (["--cost-fn", "200", "--cost-fp", "-1"], ["--cost-fp -1 must be a positive number"]),
    ],
)
def test_incomplete_costs_are_one_line_bad_input(
    churnops: RunCli, trained_home: Path, args: list[str], words: list[str]
) -> None:
    """Costs that cannot be used: exit 2, one line saying what to give, nothing registered."""
    before = (trained_home / "registry" / "metadata.json").read_bytes()
    assert_one_line_error(churnops("train", "--home", trained_home, *args), 2, *words)
    assert (trained_home / "registry" / "metadata.json").read_bytes() == before


def test_an_unknown_calibration_method_is_a_usage_error(
    churnops: RunCli, trained_home: Path
) -> None:
    """--calibrate takes isotonic or sigmoid only (exit 2, typer's usage message)."""
    run = churnops("train", "--home", trained_home, "--calibrate", "platt")
    assert run.code == 2 and "isotonic" in run.err and "Traceback" not in run.err


def test_train_by_cost_reports_and_records_the_threshold(
    churnops: RunCli, trained_home: Path
) -> None:
    """train with both costs picks a lower threshold, says where it comes from and what the
    hold-out costs at it and at the fixed one; the version records it."""
    run = churnops("train", "--home", trained_home, "--cost-fn", "200", "--cost-fp", "20")
    assert run.code == 0, run.err
    assert "(least expected cost)" in run.out and "expected cost per customer" in run.out
    current = Registry(load_settings(home=trained_home)).read().current
    assert current is not None and current.version == 2
    assert current.threshold < 0.5
    assert current.hyperparameters["costs"] == {"false_negative": 200.0, "false_positive": 20.0}
    shown = churnops("train", "--home", trained_home, "--cost-fn", "200", "--cost-fp", "20")
    assert shown.code == 0 and "nothing registered" in shown.out  # the same retrain: unchanged


def test_train_with_calibration_prints_both_brier_scores(
    churnops: RunCli, trained_home: Path
) -> None:
    """train --calibrate sigmoid --json records the method; the table shows both Brier scores."""
    run = churnops("train", "--home", trained_home, "--calibrate", "sigmoid", "--json")
    assert run.code == 0, run.err
    metrics = run.json()["metrics"]
    assert {"brier", "brier_uncalibrated"} <= set(metrics)
    table = churnops("train", "--home", trained_home, "--calibrate", "isotonic")
    assert table.code == 0, table.err
    assert "brier (isotonic; uncalibrated)" in table.out
