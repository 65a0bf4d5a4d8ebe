"""Running the real ``churnops`` entry point in-process, for the CLI tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from churnops.entry import main


@dataclass
class CliRun:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


RunCli = Callable[..., CliRun]


def cli_runner(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunCli:
    def run(*args: str | Path) -> CliRun:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["churnops", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        out, err = capsys.readouterr()
        return CliRun(code, out, err)

    return run


def run_at_width(columns: int, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``churnops ARGS…`` in a new process, piped with ``COLUMNS`` set (as in a terminal of that
    width); it must exit 0."""
    command = [sys.executable, "-m", "churnops", *map(str, args)]
    env = {**os.environ, "COLUMNS": str(columns)}
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done


def output_at_width(columns: int, *args: str | Path) -> str:
    """``churnops ARGS…`` at ``columns`` (see ``run_at_width``): its stdout."""
    return run_at_width(columns, *args).stdout


def printed_file(shown: str, label: str) -> Path:
    """The file a command named on its ``label: PATH`` line; it must exist (a path broken over
    two lines would not)."""
    found = [
        line.removeprefix(f"{label}: ")
        for line in shown.splitlines()
        if line.startswith(f"{label}: ")
    ]
    assert len(found) == 1, shown
    assert Path(found[0]).is_file(), shown
    return Path(found[0])


def registry_bytes(home: Path) -> dict[str, bytes]:
    """The registry files a refused command must leave byte for byte."""
    folder = home / "registry"
    names = ("metadata.json", "current_model.txt", "history.jsonl", "train_stats.json")
    return {name: (folder / name).read_bytes() for name in names}


def assert_one_line_error(run: CliRun, code: int, *words: str) -> None:
    """Exit ``code`` with a single 'error: …' line on stderr naming ``words``, no traceback."""
    assert run.code == code, (run.code, run.out, run.err)
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in run.err + run.out
    for word in words:
        assert word in lines[0]


def report_after_import(run_cli: RunCli, home: Path, outcomes: Path) -> Any:
    """``labels import OUTCOMES`` then ``experiment report --json``: the report."""
    imported = run_cli("labels", "import", outcomes, "--home", home)
    assert imported.code == 0, imported.err
    found = run_cli("experiment", "report", "--home", home, "--json")
    assert found.code == 0, found.err
    return found.json()


def half_width(difference: dict[str, float]) -> float:
    """Half the width of a reported difference's interval."""
    return (difference["upper"] - difference["lower"]) / 2
