"""The ``churnops`` executable starts the scoring workers' server before the command line's
imports, for a ``score`` that will use it, and for nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from churnops.scoring.workers import requested_workers


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ([], 0),
        (["--workers", "3"], 3),
        (["--workers=1"], 1),
        (["--engine", "local"], 0),
        (["--engine", "spark"], None),
        (["--engine=spark"], None),
        (["--help"], None),
        (["--workers"], None),  # no value: the command itself says what is wrong
        (["--workers", "two"], None),
        (["--workers", "²"], None),  # a digit int() cannot read
        (["--engine"], None),
        (["--work", "3"], 0),  # no abbreviations: the command line takes none either
    ],
)
def test_which_score_commands_start_the_server_early(
    extra: list[str], expected: int | None, tmp_path: Path
) -> None:
    source = tmp_path / "base.parquet"
    source.touch()
    arguments = ["--input", str(source), "--output", str(tmp_path / "scores.parquet"), *extra]
    assert requested_workers(arguments) == expected


def test_a_score_that_will_fail_its_arguments_starts_nothing(tmp_path: Path) -> None:
    """No input, no output, or an input that does not exist: the command refuses it at once,
    so no server is started to be waited for."""
    output = ["--output", str(tmp_path / "scores.parquet")]
    assert requested_workers(output) is None
    assert requested_workers(["--input", str(tmp_path)]) is None
    assert requested_workers(["--input", str(tmp_path / "missing.csv"), *output]) is None


def test_python_m_churnops_is_the_executable() -> None:
    """``python -m churnops`` runs the same entry point as ``churnops``."""
    done = subprocess.run(
        [sys.executable, "-m", "churnops", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("churnops ")
