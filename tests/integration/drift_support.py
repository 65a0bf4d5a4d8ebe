"""Helpers for the drift integration tests: log scored rows as the API does, run the CLI.

(A plain module, imported by name: pytest puts each test folder on ``sys.path``.)"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pandas as pd
import pytest
from schema_homes import log_scored as log_scored  # scored rows, logged as the API logs them

from churnops.cli import main
from churnops.monitoring.simulate import simulated_frame


def traffic(rows: int, seed: int, shift: str | None = None) -> pd.DataFrame:
    return simulated_frame(rows, seed, shift)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """``churnops ARGS`` in this process, through the real entry point and its exit codes."""
    capsys.readouterr()
    saved = sys.argv
    sys.argv = ["churnops", *args]
    try:
        with pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        sys.argv = saved
    captured = capsys.readouterr()
    code = exit_info.value.code
    return CliResult(
        code if isinstance(code, int) else (0 if code is None else 1), captured.out, captured.err
    )
