"""`churnops --version`."""

from __future__ import annotations

from cli_support import RunCli

from churnops import __version__


def test_version(run_cli: RunCli) -> None:
    """It prints the package version and exits 0, without running a command."""
    run = run_cli("--version")
    assert (run.code, run.out.strip()) == (0, f"churnops {__version__}")
