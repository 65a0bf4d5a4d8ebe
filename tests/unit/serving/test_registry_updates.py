"""The loop that follows the registry: it stops when the server stops, whatever wakes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from serving_support import inputs_for

from churnops.serving.predictor import Predictor
from churnops.serving.registry_updates import RegistryUpdates, follow_registry
from churnops.settings import load_settings


def test_a_wake_up_arriving_as_the_server_stops_does_not_keep_the_loop_running(
    tmp_path: Path,
) -> None:
    """A registry notification that lands in the same loop turn as the shutdown's cancel: the
    loop still ends. With ``asyncio.wait_for`` on Python 3.11 the finished wait won and the
    cancellation was dropped, so the loop went on and the API's shutdown waited forever (a
    test client with a reachable database hung that way)."""
    predictor = Predictor(load_settings(home=tmp_path), inputs_for)
    updates = RegistryUpdates()

    async def stop_as_it_wakes() -> None:
        loop = asyncio.create_task(follow_registry(predictor, 60.0, updates))
        await asyncio.sleep(0.05)  # the loop now waits for a wake-up or its interval
        for event in list(updates._wakers):  # what a notification does, in this loop turn
            event.set()
        loop.cancel()
        await asyncio.wait_for(loop, timeout=10)

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(stop_as_it_wakes())
