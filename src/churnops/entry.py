"""The ``churnops`` executable (``[project.scripts]``, ``python -m churnops``).

`churnops score` scores in worker processes forked from a server that imports and warms up the
scoring code once (``scoring.workers``). Started here, before the command line imports its own
modules (typer, pydantic, pandas: about 0.6 s), the server's imports run beside those on the
other core and the workers start that much sooner: 1M rows in 7.8 s instead of 8.4 s
(``benchmarks/bench_score.py``). Every other command starts as before.

Ctrl-C exits 130 without a traceback, as it does once a command runs (typer's own handling):
also while the command line is still being imported, which typer cannot catch. The lab scripts
(``src/train.py``, …) start here too, for the same reason.
"""

from __future__ import annotations

import sys

INTERRUPTED = 130  # 128 + SIGINT, the shell's code for a command stopped by Ctrl-C


def main(command: str | None = None) -> None:
    """The command line; with ``command``, that one command alone (the lab scripts:
    ``python src/train.py`` is ``churnops train``, see ``churnops.cli.main``)."""
    try:
        if command is None and sys.argv[1:2] == ["score"]:
            from churnops.scoring.workers import start_workers_for

            start_workers_for(sys.argv[2:])
        from churnops.cli import main as command_line

        command_line(command)
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED)
