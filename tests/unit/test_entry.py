"""The ``churnops`` executable starts the scoring workers' server before the command line's
imports, for a ``score`` that will use it, and for nothing else."""

from __future__ import annotations

import subprocess
import sys

import pytest

from churnops.scoring.workers import requested_workers


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--input", "base.parquet", "--output", "scores.parquet"], 0),
        (["--input", "b", "--workers", "3"], 3),
        (["--workers=1", "--input", "b"], 1),
        (["--engine", "local"], 0),
        (["--engine", "spark", "--input", "b"], None),
        (["--engine=spark"], None),
        (["--help"], None),
        (["--workers"], None),  # no value: the command itself says what is wrong
        (["--workers", "two"], None),
        (["--engine"], None),
        (["--work", "3"], 0),  # no abbreviations: the command line takes none either
    ],
)
def test_which_score_commands_start_the_server_early(
    arguments: list[str], expected: int | None
) -> None:
    assert requested_workers(arguments) == expected


def test_python_m_churnops_is_the_executable() -> None:
    """``python -m churnops`` runs the same entry point as ``churnops``."""
    done = subprocess.run(
        [sys.executable, "-m", "churnops", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("churnops ")
