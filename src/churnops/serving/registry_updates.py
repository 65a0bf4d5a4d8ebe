"""How the API learns that the registry changed: polling, and with PostgreSQL notifications.

Every ``interval`` seconds the registry is checked (cheaply: its stamp) — that alone is how
a file registry is followed. With the registry in PostgreSQL, a thread also ``LISTEN``s on
the channel every registry commit notifies; a notification wakes the loop at once, so all
replicas swap within a fraction of a second of a promote. Polling stays as the fallback: a
notification missed while the listening connection was down is caught by the next poll, and
by the check made as soon as it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Literal

import anyio
import psycopg

from churnops.database.connection import connect
from churnops.database.url import DatabaseUrl
from churnops.errors import ChurnopsError
from churnops.registry.postgres import CHANNEL
from churnops.serving.predictor import Predictor
from churnops.serving.throttled_log import ThrottledLog

logger = logging.getLogger("churnops.serving")

Trigger = Literal["notify", "poll"]
WAIT_S = 0.5  # how often the listening thread checks that it should stop
RETRY_S = 1.0


class RegistryUpdates:
    """The wake-up call for the registry loop; with a database, notifications besides polling."""

    def __init__(self) -> None:
        self.last_swap_by: Trigger | None = None
        # the loops following the registry and their events (one per running lifespan)
        self._wakers: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._log = ThrottledLog(logger)

    @property
    def mechanism(self) -> Trigger:
        """``notify`` while a listening connection is up, else ``poll``."""
        return "notify" if self._connected.is_set() else "poll"

    def start(self, url: DatabaseUrl | None) -> None:
        """With a database ``url``, start listening (once)."""
        if url is None or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(url,), name="registry-listener", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(WAIT_S + 5)

    def waker(self) -> asyncio.Event:
        """An event of the running loop, set on each notification (``forget`` it after)."""
        event = asyncio.Event()
        with self._lock:
            self._wakers[event] = asyncio.get_running_loop()
        return event

    def forget(self, event: asyncio.Event) -> None:
        with self._lock:
            self._wakers.pop(event, None)

    def _notify(self) -> None:
        with self._lock:
            wakers = list(self._wakers.items())
        for event, loop in wakers:
            loop.call_soon_threadsafe(event.set)

    def _run(self, url: DatabaseUrl) -> None:
        while not self._stop.is_set():
            try:
                with connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._connected.set()
                    self._notify()  # catch up with what changed while not listening
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=WAIT_S):
                            self._notify()
            except (psycopg.Error, ChurnopsError) as exc:
                self._log.event("registry notifications unavailable (%s); polling", exc)
            self._connected.clear()
            self._stop.wait(RETRY_S)


async def follow_registry(predictor: Predictor, interval: float, updates: RegistryUpdates) -> None:
    """Check the registry every ``interval`` seconds or when woken, in a worker thread (hashing
    and loading a model must not stall the event loop). Runs until cancelled."""
    wake = updates.waker()
    try:
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation that
            # arrives as the wait ends, and the server's shutdown then waits forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await wake.wait()
            trigger: Trigger = "notify" if wake.is_set() else "poll"
            wake.clear()
            try:
                outcome = await anyio.to_thread.run_sync(predictor.refresh)
            except Exception:  # keep following: a bug here must not silently freeze the model
                logger.exception("registry check failed")
                continue
            if outcome.changed:
                updates.last_swap_by = trigger
    finally:
        updates.forget(wake)
