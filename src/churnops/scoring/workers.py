"""Where the scoring workers come from: a fork server that has imported and warmed up what a
worker needs once (``churnops.scoring.preload``), so each worker forked from it starts scoring
at once. A fork server, not a plain fork: it does not share this process's threads (Arrow's
readers), which a fork would copy mid-state.

This module imports nothing heavy, so the command can start the server first and let it import
on the other core while the command imports its own modules.
"""

from __future__ import annotations

import os
from multiprocessing import forkserver, get_context
from multiprocessing.context import BaseContext

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
