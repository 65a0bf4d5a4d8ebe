"""Where the scoring workers come from: a fork server that has imported and warmed up what a
worker needs once (``churnops.scoring.preload``), so each worker forked from it starts scoring
at once. A fork server, not a plain fork: it does not share this process's threads (Arrow's
readers), which a fork would copy mid-state.

This module imports nothing heavy, so the command can start the server first and let it import
on the other core while the command imports its own modules.
"""

from __future__ import annotations

import argparse
import os
from multiprocessing import forkserver, get_context
from multiprocessing.context import BaseContext
from pathlib import Path

PRELOAD = "churnops.scoring.preload"


def worker_count(requested: int) -> int:
    """``requested`` processes, or one per core for 0."""
    return requested if requested > 0 else max(1, len(os.sched_getaffinity(0)))


def worker_context() -> BaseContext:
    context = get_context("forkserver")
    context.set_forkserver_preload([PRELOAD])
    return context


def start_workers_early(requested: int) -> None:
    """Start the fork server now when there will be more than one worker, so its imports
    overlap with this process's."""
    if worker_count(requested) > 1:
        worker_context()
        forkserver.ensure_running()


def requested_workers(arguments: list[str]) -> int | None:
    """The ``--workers`` of a ``churnops score`` with these arguments when it will score here:
    an input that exists and an output are given, not on Spark, not ``--help``. None when it
    will not, or when this cannot read them — the command checks its arguments itself and says
    what is wrong, without waiting for a server started for nothing."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    parser.add_argument("--input")
    parser.add_argument("--output")
    parser.add_argument("--engine", default="local")
    parser.add_argument("--workers", default="0")
    parser.add_argument("--help", action="store_true")
    try:
        known, _ = parser.parse_known_args(arguments)
    except argparse.ArgumentError:  # e.g. --workers without a value
        return None
    given = known.input is not None and known.output is not None and Path(known.input).exists()
    if not given or known.engine != "local" or not known.workers.isdecimal() or known.help:
        return None
    return int(known.workers)


def start_workers_for(arguments: list[str]) -> None:
    """Start the server now for a ``churnops score`` with these arguments, if it needs one."""
    requested = requested_workers(arguments)
    if requested is not None:
        start_workers_early(requested)
