"""The ``churnops`` executable starts the scoring workers' server before the command line's
imports, for a ``score`` that will use it, and for nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from churnops.scoring.workers import requested_workers

ROOT = Path(__file__).resolve().parents[2]


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


# Put first on the child's path, this module is imported at its start-up (``site``): when the
# command line's package is first looked for, the child sends itself a real SIGINT, so Ctrl-C
# lands while the command line is being imported — every time, whatever the machine's speed.
# It first gives Ctrl-C the handler a terminal's Python has: a process started in the
# background by a non-interactive shell (as a CI job may start the tests) ignores SIGINT, and
# its children inherit that.
CTRL_C_ON_IMPORT = """
import importlib.abc, os, signal, sys

signal.signal(signal.SIGINT, signal.default_int_handler)

class CtrlC(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "churnops.cli":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlC())
"""


def _interrupted_while_importing(args: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` (from the repository's root), sent SIGINT as it imports the command
    line (``CTRL_C_ON_IMPORT``)."""
    (folder / "sitecustomize.py").write_text(CTRL_C_ON_IMPORT, encoding="utf-8")
    path = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args", [["-m", "churnops", "--version"], ["src/rollback.py", "--help"]], ids=" ".join
)
def test_ctrl_c_while_the_command_line_imports_exits_130_without_a_traceback(
    args: list[str], tmp_path: Path
) -> None:
    """Ctrl-C before the command runs (``churnops`` or a lab script) exits 130 as it does
    while it runs: no traceback."""
    done = _interrupted_while_importing(args, tmp_path)
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 1, done.stderr
