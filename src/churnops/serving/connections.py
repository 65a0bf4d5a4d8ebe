"""Slow and half-open connections: read deadlines, a connection cap, and the open-files limit.

uvicorn times out only *idle* keep-alive connections: a client that sends its headers or its
body one byte every few seconds holds a connection (and a file descriptor) for as long as it
likes, and enough of them exhaust the process's descriptors — new clients are then refused and
the registry poll fails. uvicorn's ``limit_concurrency`` does not help: it answers 503 to the
*new* clients while the slow ones keep their places.

So ``GuardedHttpToolsProtocol`` (uvicorn's httptools protocol plus three hooks) reports each
connection's progress to the app's ``ConnectionGuard``, which

* closes a connection whose request headers are not complete ``header_timeout`` seconds after
  they started (or after the connection opened), or whose body is not complete
  ``body_timeout`` seconds after the headers, answering 408 when no response is under way;
* keeps at most ``max_connections`` open (fewer if the open-files limit is lower): past the
  cap, a new connection closes the connection that has been reading its request the longest
  (a slow client), so new clients keep being answered during an attack; only when no
  connection is reading a request is the new one closed.

Deadlines are checked by one sweep a few times a second, not by a timer per request, so a fast
request costs three dictionary updates. The guard reaches the protocol through the ASGI
lifespan state (the app yields it), so the limits come from the app's own settings; with
another app the protocol behaves exactly as uvicorn's. Each worker process has its own guard.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Protocol

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from churnops.serving.throttled_log import ThrottledLog

logger = logging.getLogger("churnops.serving")

GUARD_STATE_KEY = "churnops.connection_guard"
FD_RESERVE = 128  # descriptors kept for the model, the log database, the registry, the runtime
SWEEPS_PER_TIMEOUT = 4
REASONS = ("header_timeout", "body_timeout", "evicted", "refused")


class Reader(Protocol):
    def expire(self, message: str) -> None: ...


class ConnectionGuard:
    """Read deadlines and the connection cap of one server process."""

    def __init__(self, header_timeout: float, body_timeout: float, max_connections: int) -> None:
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.max_connections = max_connections
        self.closed = dict.fromkeys(REASONS, 0)
        self.open = 0
        # connection -> when its current phase started; dicts keep insertion order, and a
        # connection is re-inserted when its phase starts, so the first entry is the oldest
        self._headers: dict[Reader, float] = {}
        self._bodies: dict[Reader, float] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._logs = {reason: ThrottledLog(logger) for reason in REASONS}

    # ---- lifecycle (the app's lifespan) ----------------------------------------------------
    def start(self, open_files: int) -> None:
        """Start sweeping on the running loop; the cap is lowered to fit ``open_files``."""
        fitting = max(open_files - FD_RESERVE, 1)
        if fitting < self.max_connections:
            logger.warning(
                "at most %d connections (the open-files limit is %d; raise it with `ulimit -n`)",
                fitting,
                open_files,
            )
            self.max_connections = fitting
        self._schedule_sweep(asyncio.get_running_loop())

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    # ---- the protocol's hooks --------------------------------------------------------------
    def admit(self, connection: Reader, open_connections: int) -> bool:
        """False when ``connection`` must be closed at once (cap reached, no slow one to drop)."""
        self.open = open_connections
        if open_connections <= self.max_connections:
            return True
        slowest = self._slowest()
        if slowest is None:
            self._count("refused", "a new connection: every open one is busy or idle")
            return False
        self._count("evicted", "the connection reading its request the longest")
        self._forget(slowest)
        slowest.expire("the server is at its connection limit and this request was the slowest")
        return True

    def reading_headers(self, connection: Reader) -> None:
        self._bodies.pop(connection, None)
        self._headers.pop(connection, None)
        self._headers[connection] = time.monotonic()

    def reading_body(self, connection: Reader) -> None:
        self._headers.pop(connection, None)
        self._bodies[connection] = time.monotonic()

    def done_reading(self, connection: Reader) -> None:
        self._forget(connection)

    def connection_closed(self, connection: Reader, open_connections: int) -> None:
        self._forget(connection)
        self.open = open_connections

    # ---- internals -------------------------------------------------------------------------
    def _slowest(self) -> Reader | None:
        """The connection whose current reading phase (headers or body) began first."""
        heads = [next(iter(phase.items())) for phase in (self._headers, self._bodies) if phase]
        return min(heads, key=lambda head: head[1])[0] if heads else None

    def _forget(self, connection: Reader) -> None:
        self._headers.pop(connection, None)
        self._bodies.pop(connection, None)

    def _count(self, reason: str, what: str) -> None:
        self.closed[reason] += 1
        self._logs[reason].event(
            "closed %s (%s; at most %d connections, headers within %g s, bodies within %g s)",
            what,
            reason.replace("_", " "),
            self.max_connections,
            self.header_timeout,
            self.body_timeout,
        )

    def _schedule_sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        interval = min(self.header_timeout, self.body_timeout, 4.0) / SWEEPS_PER_TIMEOUT
        self._sweeper = loop.call_later(interval, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = time.monotonic()
        for phase, timeout, reason in (
            (self._headers, self.header_timeout, "header_timeout"),
            (self._bodies, self.body_timeout, "body_timeout"),
        ):
            late = []
            for connection, started in phase.items():  # oldest first: stop at the first on time
                if now - started < timeout:
                    break
                late.append(connection)
            for connection in late:
                self._count(reason, "a connection that did not send its request in time")
                self._forget(connection)
                connection.expire(self._deadline_message())
        self._schedule_sweep(loop)

    def _deadline_message(self) -> str:
        return (
            f"request not received in time: send the headers within {self.header_timeout:g} s "
            f"and the body within {self.body_timeout:g} s"
        )


def raise_open_files_limit() -> int:
    """Raise this process's soft open-files limit to the hard limit when allowed; returns the
    soft limit in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == hard:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        logger.warning("cannot raise the open-files limit from %d to %d: %s", soft, hard, exc)
        return soft
    logger.info("raised the open-files limit from %d to %d", soft, hard)
    return hard


def request_timeout(message: str) -> bytes:
    """A complete 408 answer that closes the connection."""
    body = ('{"detail":"' + message + '"}').encode("ascii")
    head = [
        b"HTTP/1.1 408 Request Timeout",
        b"content-type: application/json",
        b"content-length: %d" % len(body),
        b"connection: close",
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, reporting each request's reading progress to the guard.

    Run with ``uvicorn --http churnops.serving.connections:GuardedHttpToolsProtocol``
    (``churnops serve`` does)."""

    guard: ConnectionGuard | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[arg-type]
        guard = self.app_state.get(GUARD_STATE_KEY)
        if not isinstance(guard, ConnectionGuard):
            return
        self.guard = guard
        if guard.admit(self, len(self.connections)):
            guard.reading_headers(self)
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.guard is not None:
            self.guard.connection_closed(self, len(self.connections))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.guard is not None:
            self.guard.reading_headers(self)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.guard is not None:
            self.guard.reading_body(self)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self.guard is not None:
            self.guard.done_reading(self)

    def expire(self, message: str) -> None:
        """Close this connection; answer 408 first unless a response is being written."""
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or not cycle.response_started or cycle.response_complete:
            self.transport.write(request_timeout(message))
        self.transport.close()
