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
then the rest is counted as failed and the process stops anyway. Failures and drops are
logged at most once per 10 s (``ThrottledLog``), so ``close`` ends with one unthrottled line
of every row lost since the writer started, when any was: the last word in the server log
states the whole loss.

A hard kill (SIGKILL, the OOM killer) loses only the rows not yet committed: the answers of
the last ``flush_interval`` seconds plus a batch being written, and never more than
``capacity`` rows. Committed rows survive it (SQLite in WAL mode).

In a shadow experiment the rows come with a ``ShadowJob`` (the challenger and the encoded
rows): before each insert the writer scores every waiting job's rows in one ONNX call per
challenger and fills ``shadow_probability`` — off the request path, and amortised over the
batch. A job that fails is counted (``shadow_failed``); its rows are logged without it.

Rows come tagged with their ``LogLayout`` (the columns of the feature schema of the model
that answered them), so one writer takes rows of versions with different schemas: the first
rows of a layout add its feature columns to the table (``logstore.ensure_columns``), and each
batch is inserted with its own column names.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from churnops import logstore
from churnops.database.url import DatabaseUrl
from churnops.errors import ChurnopsError
from churnops.schema import FeatureSchema
from churnops.serving.log_sinks import LogSink, open_sink
from churnops.serving.throttled_log import ThrottledLog

logger = logging.getLogger("churnops.serving")

WRITE_PATIENCE_S = 60.0  # how long a batch is retried while the database is locked, full or away
STOP_GRACE_S = 5.0

LogRow = tuple[Any, ...]
NO_EXPERIMENT = (None,) * len(logstore.EXPERIMENT_COLUMNS)  # a row served outside an experiment
# the shadow score is the last column (``logstore.columns``): filled in by the writer
SHADOW_COLUMN = logstore.columns(None).index("shadow_probability") - len(logstore.columns(None))


class Scorer(Protocol):
    def predict(self, matrix: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ShadowJob:
    """Rows to score in shadow before they are written: ``matrix`` row i is log row i's."""

    scorer: Scorer
    matrix: np.ndarray


def with_shadow(row: LogRow, probability: float | None) -> LogRow:
    return (*row[:SHADOW_COLUMN], probability)


class LogLayout:
    """The log columns of one feature schema, and the rows in that order (``logstore.columns``)."""

    def __init__(self, schema: FeatureSchema) -> None:
        self.schema = schema
        self.names = tuple(logstore.columns(schema))
        self._features = tuple(schema.feature_names)
        self._id_column = schema.id_column

    def row(
        self,
        ts: float,
        request_id: str,
        version: int,
        features: Any,
        probability: float,
        decision: bool,
        latency_ms: float,
        experiment: tuple[Any, ...] = NO_EXPERIMENT,
    ) -> LogRow:
        """One log row from a validated request row (features as attributes)."""
        return (
            ts,
            request_id,
            getattr(features, self._id_column),
            version,
            *[getattr(features, name) for name in self._features],
            probability,
            decision,  # bool: SQLite stores 1 / 0
            latency_ms,
            *experiment,
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
        experiment: tuple[Any, ...] = NO_EXPERIMENT,
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
                *map(repeat, experiment),
                strict=False,  # the repeat()s are endless; the columns all have the batch's length
            )
        )


Chunk = tuple[LogLayout, Sequence[LogRow]]
Pending = tuple[LogLayout, Sequence[LogRow], ShadowJob | None]


def batches(chunks: Iterable[Chunk], size: int) -> Iterator[tuple[LogLayout, list[LogRow]]]:
    """Consecutive rows of one layout, in batches of at most ``size``, in the order given."""
    runs: list[tuple[LogLayout, list[LogRow]]] = []
    for layout, rows in chunks:
        if runs and runs[-1][0] is layout:
            runs[-1][1].extend(rows)
        else:
            runs.append((layout, list(rows)))
    for layout, rows in runs:
        for start in range(0, len(rows), size):
            yield layout, rows[start : start + size]


class InferenceLogWriter:
    def __init__(
        self,
        location: Path | DatabaseUrl,
        capacity: int,
        batch_size: int,
        flush_interval: float,
        shutdown_timeout: float,
    ) -> None:
        self.location = location
        self.capacity = capacity
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.shutdown_timeout = shutdown_timeout
        self.written = 0
        self.dropped = 0  # refused: the queue was full or closed
        self.failed = 0  # accepted, but the database did not take them
        self.shadow_scored = 0  # rows given the challenger's score in shadow
        self.shadow_failed = 0  # rows whose shadow score failed (logged without it)
        self.last_error: str | None = None
        self._buffer: list[Pending] = []
        self._buffered = 0
        self._in_flight = 0
        self._ready: set[tuple[str, ...]] = set()  # layouts whose columns the table has
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._accepting = False
        self._give_up_at = float("inf")  # set by close: when to stop writing
        self._drop_log = ThrottledLog(logger)
        self._fail_log = ThrottledLog(logger, logging.ERROR)
        self._retry_log = ThrottledLog(logger)
        self._sink: LogSink = open_sink(location)
        self._thread: threading.Thread | None = None

    # ---- request side ----------------------------------------------------------------------
    def submit(
        self, layout: LogLayout, rows: Sequence[LogRow], shadow: ShadowJob | None = None
    ) -> bool:
        """Queue rows (in ``layout``'s column order) for writing — scored in shadow first when
        ``shadow`` is given; False (and counted as dropped) when the buffer is full."""
        with self._lock:
            if self._accepting and self.pending + len(rows) <= self.capacity:
                self._buffer.append((layout, rows, shadow))
                self._buffered += len(rows)
                full = self._buffered >= self.batch_size
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
        return self._buffered + self._in_flight

    # ---- writer side -----------------------------------------------------------------------
    def start(self) -> None:
        """Open the database (a SQLite file is created in WAL mode, a PostgreSQL schema version
        checked; feature columns come with the first rows of each schema) and start the writer
        thread."""
        self._sink.open()
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
        if self.running:  # it still uses the connection (left open): the process is stopping
            self._fail(self.pending, "the writer did not stop in time")
        else:
            self._sink.close()
        self._report_loss()

    def _report_loss(self) -> None:
        """One unthrottled line of the rows lost since the start: the throttled lines before
        it may not have counted the last failures and drops."""
        if self.failed or self.dropped:
            logger.error(
                "inference log closed: %d row(s) not written and %d dropped since the start "
                "(%d written; last error: %s)",
                self.failed,
                self.dropped,
                self.written,
                self.last_error or "none",
            )

    def _run(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self._drain()
        self._drain()

    def _drain(self) -> None:
        with self._lock:
            chunks, self._buffer = self._buffer, []
            self._in_flight, self._buffered = self._buffered, 0
        for layout, rows in batches(self._scored(chunks), self.batch_size):
            if time.monotonic() < self._give_up_at:
                self._write(layout, rows)
            else:
                self._fail(len(rows), f"not written within the {self.shutdown_timeout:g} s stop")
            with self._lock:
                self._in_flight -= len(rows)

    def _scored(self, pending: list[Pending]) -> list[Chunk]:
        """The rows, with the shadow score of those that wait for one: one ONNX call per
        challenger for everything buffered."""
        jobs: dict[int, list[int]] = {}  # id(scorer) → positions in ``pending``
        for position, (_, _, job) in enumerate(pending):
            if job is not None:
                jobs.setdefault(id(job.scorer), []).append(position)
        chunks: list[Chunk] = [(layout, rows) for layout, rows, _ in pending]
        for positions in jobs.values():
            scores = self._shadow_scores([cast(ShadowJob, pending[i][2]) for i in positions])
            for i, scored in zip(positions, scores, strict=True):
                layout, rows = chunks[i]
                chunks[i] = (
                    layout,
                    [with_shadow(row, p) for row, p in zip(rows, scored, strict=True)],
                )
        return chunks

    def _shadow_scores(self, jobs: list[ShadowJob]) -> list[list[float | None]]:
        """Each job's shadow scores (all from one scorer); None for each row when it fails."""
        sizes = [len(job.matrix) for job in jobs]
        try:
            scores: list[float | None] = (
                jobs[0].scorer.predict(np.concatenate([j.matrix for j in jobs])).tolist()
            )
        except Exception as exc:  # an ONNX Runtime failure must not stop the log: count it
            self.shadow_failed += sum(sizes)
            self._fail_log.event("shadow scoring failed for %d row(s): %s", sum(sizes), exc)
            return [[None] * size for size in sizes]
        self.shadow_scored += len(scores)
        ends = list(itertools.accumulate(sizes))
        return [scores[end - size : end] for size, end in zip(sizes, ends, strict=True)]

    def _write(self, layout: LogLayout, rows: list[LogRow]) -> None:
        """Write one batch; if the database refuses its data, write it row by row so only the
        offending rows are lost."""
        error = self._insert(layout, rows)
        if error is None:
            self.written += len(rows)
        elif len(rows) > 1 and not self._sink.transient(error):
            for row in rows:
                self._write(layout, [row])
        else:
            self._fail(len(rows), described(error))

    def _insert(self, layout: LogLayout, rows: list[LogRow]) -> Exception | None:
        """Insert one batch (adding its layout's columns first if the table lacks them),
        retrying for ``WRITE_PATIENCE_S`` (or until the stop deadline) while the database is
        locked, full or unreachable; the error, or None when written. Catches everything: the
        writer thread must not die."""
        patience_ends = time.monotonic() + WRITE_PATIENCE_S
        delay = 0.1
        while True:
            try:
                if layout.names not in self._ready:
                    self._sink.ensure_columns(layout.schema)
                    self._ready.add(layout.names)
                self._sink.insert(layout.schema, layout.names, rows)
                return None
            except Exception as exc:  # a value the database cannot store (an int beyond 64 bits)…
                if not self._sink.transient(exc):
                    return exc
                if time.monotonic() + delay >= min(patience_ends, self._give_up_at):
                    return exc
                self._retry_log.event("inference log write failed (%s); retrying", exc)
                time.sleep(delay)
                delay = min(2 * delay, 1.0)

    def _fail(self, rows: int, reason: str) -> None:
        with self._lock:
            self.failed += rows
        self.last_error = reason  # shown by /health/ready: no server path in it
        where = str(self._sink)
        shown = reason if where in reason else f"{reason} ({where})"
        self._fail_log.event("inference log: %d row(s) not written: %s", rows, shown)


def described(error: Exception) -> str:
    """A database error in one line: the project's own errors are worded already (and name
    the database); a driver's is prefixed with its class (``OperationalError: disk I/O error``)."""
    if isinstance(error, ChurnopsError):
        return str(error)
    return f"{type(error).__name__}: {error}"
