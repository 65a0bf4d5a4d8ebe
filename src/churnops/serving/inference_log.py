"""The inference log's writer: requests hand rows over in microseconds, a thread writes them.

``submit`` appends to an in-memory buffer under a lock and never blocks on the database; a
writer thread wakes every ``flush_interval`` (or as soon as a full batch waits) and appends
the rows in batches through ``churnops.logstore`` (a few statements per batch, so the
writer seldom takes the GIL from the request thread). When the buffer is full the rows are
counted as dropped and a warning is logged — the request still succeeds.
``close`` writes everything still buffered, so a graceful stop loses nothing.
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

logger = logging.getLogger("churnops.serving")

WRITE_ATTEMPTS = 5
DROP_WARNING_EVERY_S = 10.0

LogRow = tuple[Any, ...]


class InferenceLogWriter:
    def __init__(
        self,
        path: Path,
        schema: FeatureSchema,
        capacity: int,
        batch_size: int,
        flush_interval: float,
    ) -> None:
        self.path = path
        self.schema = schema
        self.capacity = capacity
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.written = 0
        self.dropped = 0
        self._features = tuple(schema.feature_names)
        self._id_column = schema.id_column
        self._buffer: list[LogRow] = []
        self._in_flight = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._accepting = False
        self._last_drop_warning = 0.0
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
            self._warn_dropped()
        return accepted

    @property
    def pending(self) -> int:
        """Rows accepted but not yet committed to the database."""
        return len(self._buffer) + self._in_flight

    def _warn_dropped(self) -> None:
        now = time.monotonic()
        if now - self._last_drop_warning >= DROP_WARNING_EVERY_S:
            self._last_drop_warning = now
            logger.warning(
                "inference log queue full (%d rows) or closed: %d row(s) dropped so far",
                self.capacity,
                self.dropped,
            )

    # ---- writer side -----------------------------------------------------------------------
    def start(self) -> None:
        """Open the database (creating it in WAL mode) and start the writer thread."""
        self._conn = logstore.connect(self.path, self.schema)
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name="inference-log-writer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop accepting rows, write every buffered one, close the database."""
        with self._lock:
            self._accepting = False
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self._drain()  # nothing should be left; this keeps that true if the thread died
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
            self._write(chunk)
            with self._lock:
                self._in_flight -= len(chunk)

    def _write(self, chunk: list[LogRow]) -> None:
        """Insert one batch, retrying while another worker holds the database."""
        assert self._conn is not None
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                logstore.insert(self._conn, chunk, self.schema)
            except sqlite3.OperationalError as exc:  # locked past the busy timeout, disk full…
                if attempt == WRITE_ATTEMPTS:
                    error: sqlite3.Error = exc
                    break
                logger.warning("inference log write failed (%s); retrying", exc)
                time.sleep(0.1 * 2**attempt)
            except sqlite3.Error as exc:
                error = exc
                break
            else:
                self.written += len(chunk)
                return
        with self._lock:
            self.dropped += len(chunk)
        logger.error("inference log: %d row(s) lost: %s (%s)", len(chunk), error, self.path)
