"""The inference log's writer: requests hand rows over in microseconds, a thread writes them.

``submit`` appends to an in-memory buffer under a lock and never blocks on the database; a
writer thread wakes every ``flush_interval`` (or as soon as a full batch waits) and appends
the rows in batches through ``churnops.logstore`` (a few statements per batch, so the
writer seldom takes the GIL from the request thread). When the buffer is full the rows are
counted as dropped and a warning is logged — the request still succeeds.

A row the database refuses (a value SQLite cannot store, a disk error) is counted as failed
and logged; a batch holding one bad row is written row by row so only that row is lost. The
writer thread catches every exception from the database, so it never dies.

``close`` writes everything still buffered, so a graceful stop loses nothing — unless writing
takes longer than ``shutdown_timeout`` (a full disk, a database locked by another process):
then the rest is counted as failed and the process stops anyway.

A hard kill (SIGKILL, the OOM killer) loses only the rows not yet committed: the answers of
the last ``flush_interval`` seconds plus a batch being written, and never more than
``capacity`` rows. Committed rows survive it (SQLite in WAL mode).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any

from churnops import logstore
from churnops.schema import FeatureSchema
from churnops.serving.throttled_log import ThrottledLog

logger = logging.getLogger("churnops.serving")

WRITE_PATIENCE_S = 60.0  # how long a batch is retried while the database is locked or full
BUSY_SLICE_MS = 1_000  # one wait for another writer's lock: the stop deadline is checked after
STOP_GRACE_S = 5.0

LogRow = tuple[Any, ...]
NO_EXPERIMENT = (None,) * len(logstore.EXPERIMENT_COLUMNS)  # a row served outside an experiment


class InferenceLogWriter:
    def __init__(
        self,
        path: Path,
        schema: FeatureSchema,
        capacity: int,
        batch_size: int,
        flush_interval: float,
        shutdown_timeout: float,
    ) -> None:
        self.path = path
        self.schema = schema
        self.capacity = capacity
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.shutdown_timeout = shutdown_timeout
        self.written = 0
        self.dropped = 0  # refused: the queue was full or closed
        self.failed = 0  # accepted, but the database did not take them
        self.last_error: str | None = None
        self._features = tuple(schema.feature_names)
        self._id_column = schema.id_column
        self._buffer: list[LogRow] = []
        self._in_flight = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._accepting = False
        self._give_up_at = float("inf")  # set by close: when to stop writing
        self._drop_log = ThrottledLog(logger)
        self._fail_log = ThrottledLog(logger, logging.ERROR)
        self._retry_log = ThrottledLog(logger)
        self._conn: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None

    # ---- request side ----------------------------------------------------------------------
    def row(
        self,
        ts: float,
        request_id: str,
        version: int,
        features: Any,
        probability: float,
        decision: bool,
        latency_ms: float,
    ) -> LogRow:
        """One log row in ``logstore.columns()`` order from a validated request row."""
        return (
            ts,
            request_id,
            getattr(features, self._id_column),
            version,
            *[getattr(features, name) for name in self._features],
            probability,
            decision,  # bool: SQLite stores 1 / 0
            latency_ms,
            *NO_EXPERIMENT,
        )

    def rows(
        self,
        ts: float,
        request_id: str,
        version: int,
        columns: Mapping[str, Sequence[Any]],
        probabilities: Sequence[float],
        decisions: Sequence[bool],
        latency_ms: float,
    ) -> list[LogRow]:
        """Log rows for a batch given column-wise (``columns`` holds each feature and the id)."""
        return list(
            zip(
                repeat(ts),
                repeat(request_id),
                columns[self._id_column],
                repeat(version),
                *[columns[name] for name in self._features],
                probabilities,
                decisions,
                repeat(latency_ms),
                *map(repeat, NO_EXPERIMENT),
                strict=False,  # the repeat()s are endless; the columns all have the batch's length
            )
        )

    def submit(self, rows: Sequence[LogRow]) -> bool:
        """Queue rows for writing; False (and counted as dropped) when the buffer is full."""
        with self._lock:
            if self._accepting and len(self._buffer) + self._in_flight + len(rows) <= self.capacity:
                self._buffer.extend(rows)
                full = len(self._buffer) >= self.batch_size
                accepted = True
            else:
                self.dropped += len(rows)
                full = accepted = False
        if full:
            self._wake.set()
        if not accepted:
            self._drop_log.event(
                "inference log queue full (%d rows) or closed: %d row(s) dropped so far",
                self.capacity,
                self.dropped,
            )
        return accepted

    @property
    def pending(self) -> int:
        """Rows accepted but not yet committed to the database."""
        return len(self._buffer) + self._in_flight

    # ---- writer side -----------------------------------------------------------------------
    def start(self) -> None:
        """Open the database (creating it in WAL mode) and start the writer thread."""
        self._conn = logstore.connect(self.path, self.schema, busy_timeout_ms=BUSY_SLICE_MS)
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name="inference-log-writer", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop accepting rows and write the buffered ones, for at most ``shutdown_timeout``
        seconds; what is left then is counted as failed."""
        with self._lock:
            self._accepting = False
        self._give_up_at = time.monotonic() + self.shutdown_timeout
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.shutdown_timeout + STOP_GRACE_S)
        if self.running:
            self._fail(self.pending, "the writer did not stop in time")
            return  # the thread still uses the connection; the process is stopping anyway
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self._drain()
        self._drain()

    def _drain(self) -> None:
        with self._lock:
            rows, self._buffer = self._buffer, []
            self._in_flight = len(rows)
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            if time.monotonic() < self._give_up_at:
                self._write(chunk)
            else:
                self._fail(len(chunk), f"not written within the {self.shutdown_timeout:g} s stop")
            with self._lock:
                self._in_flight -= len(chunk)

    def _write(self, chunk: list[LogRow]) -> None:
        """Write one batch; if the database refuses its data, write it row by row so only the
        offending rows are lost."""
        error = self._insert(chunk)
        if error is None:
            self.written += len(chunk)
        elif len(chunk) > 1 and not isinstance(error, sqlite3.OperationalError):
            for row in chunk:
                self._write([row])
        else:
            self._fail(len(chunk), f"{type(error).__name__}: {error}")

    def _insert(self, chunk: list[LogRow]) -> Exception | None:
        """Insert one batch, retrying for ``WRITE_PATIENCE_S`` (or until the stop deadline)
        while the database is locked or full; the error, or None when written. Catches
        everything: the writer thread must not die."""
        assert self._conn is not None
        patience_ends = time.monotonic() + WRITE_PATIENCE_S
        delay = 0.1
        while True:
            try:
                logstore.insert(self._conn, chunk, self.schema)
                return None
            except sqlite3.OperationalError as exc:  # locked past the busy wait, disk full…
                if time.monotonic() + delay >= min(patience_ends, self._give_up_at):
                    return exc
                self._retry_log.event("inference log write failed (%s); retrying", exc)
                time.sleep(delay)
                delay = min(2 * delay, 1.0)
            except Exception as exc:  # a value SQLite cannot store (an int beyond 64 bits)…
                return exc

    def _fail(self, rows: int, reason: str) -> None:
        with self._lock:
            self.failed += rows
        self.last_error = reason
        self._fail_log.event(
            "inference log: %d row(s) not written: %s (%s)", rows, reason, self.path
        )
