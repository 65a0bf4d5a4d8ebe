"""The ``churnops`` executable starts the scoring workers' server before the command line's
imports, for a ``score`` that will use it, and for nothing else."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
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


def _interrupted_while_importing(args: list[str]) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` (from the repository's root) sent SIGINT (Ctrl-C) once NumPy's compiled
    core is mapped into it: NumPy is only imported by the command line's modules (pandas,
    imported after it, takes a while longer), so the signal lands while they are imported."""
    child = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    maps = Path(f"/proc/{child.pid}/maps")
    deadline = time.monotonic() + 60
    while child.poll() is None and time.monotonic() < deadline:
        try:
            if "_multiarray_umath" in maps.read_text():
                break
        except OSError:  # it has just exited
            break
        time.sleep(0.001)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize(
    "args", [["-m", "churnops", "--version"], ["src/rollback.py", "--help"]], ids=" ".join
)
def test_ctrl_c_while_the_command_line_imports_exits_130_without_a_traceback(
    args: list[str],
) -> None:
    """Ctrl-C before the command runs (``churnops`` or a lab script) exits 130 as it does
    while it runs: no traceback."""
    for _ in range(3):
        done = _interrupted_while_importing(args)
        if done.returncode != 0:  # 0: it finished before the signal came, so try again
            break
    else:
        pytest.fail(f"the signal never came before `python {' '.join(args)}` finished")
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 1, done.stderr
