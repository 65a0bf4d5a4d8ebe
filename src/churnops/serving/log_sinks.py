"""Where the inference-log writer puts its batches: the SQLite file, or PostgreSQL.

A sink writes one batch of one column layout at a time and says which of its errors are worth
retrying (the database locked, busy or away) — the writer retries those with a back-off and
writes a batch refused for its data row by row, whatever the sink.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import psycopg

from churnops import logstore
from churnops.database import logtable
from churnops.database.connection import connect
from churnops.database.url import DatabaseUrl
from churnops.errors import BadInputError, CannotServeError
from churnops.schema import FeatureSchema

Connection = psycopg.Connection[tuple[Any, ...]]

BUSY_SLICE_MS = 1_000  # one wait for another writer's lock: the stop deadline is checked after


class LogSink(Protocol):
    def open(self) -> None:
        """Connect (creating the log if the backend does that); raises if it cannot."""

    def ensure_columns(self, schema: FeatureSchema) -> None:
        """Make the log take rows of ``schema``."""

    def insert(self, schema: FeatureSchema, names: Sequence[str], rows: list[Any]) -> None:
        """Append ``rows`` (tuples in ``names`` order) in one transaction."""

    def transient(self, error: Exception) -> bool:
        """Whether ``error`` may pass by itself (retry), rather than be caused by the rows."""

    def close(self) -> None: ...


class SqliteSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def __str__(self) -> str:
        return str(self.path)

    def open(self) -> None:
        try:
            self._conn = logstore.connect(self.path, None, busy_timeout_ms=BUSY_SLICE_MS)
        except (OSError, sqlite3.OperationalError) as exc:  # a file at logs/, no write access…
            raise CannotServeError(
                f"cannot open the inference log {self.path}: {exc}; make sure its folder can be "
                "created and written to, or set CHURNOPS_INFERENCE_LOG=false"
            ) from exc
        except sqlite3.DatabaseError as exc:  # a file that is not SQLite
            unreadable = logstore.unreadable(self.path, exc)
            raise CannotServeError(f"cannot open the inference log: {unreadable}") from exc

    def _connection(self) -> sqlite3.Connection:
        assert self._conn is not None, "open() first"
        return self._conn

    def ensure_columns(self, schema: FeatureSchema) -> None:
        logstore.ensure_columns(self._connection(), schema)

    def insert(self, schema: FeatureSchema, names: Sequence[str], rows: list[Any]) -> None:
        logstore.insert(self._connection(), rows, names=names)

    def transient(self, error: Exception) -> bool:
        return isinstance(error, sqlite3.OperationalError)  # locked past the wait, disk full…

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PostgresSink:
    """Binary ``COPY`` into the database's log table; a lost connection is reopened on the next
    batch (the writer keeps the rows meanwhile, up to its bound)."""

    def __init__(self, url: DatabaseUrl) -> None:
        self.url = url
        self._conn: Connection | None = None
        self._types: dict[tuple[str, ...], list[str]] = {}
        self._days: set[int] = set()  # days whose partition exists

    def __str__(self) -> str:
        return str(self.url)

    def open(self) -> None:
        """Nothing yet: the first batch connects. A database that is down or wrong when the
        API starts must not stop it — it starts not ready, saying why (its registry read fails
        the same way), and serves once the database is back."""

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.url, autocommit=True)
        return self._conn

    def ensure_columns(self, schema: FeatureSchema) -> None:
        self._guarded(lambda conn: logtable.ensure_columns(conn, schema))

    def insert(self, schema: FeatureSchema, names: Sequence[str], rows: list[Any]) -> None:
        try:
            self._copy(schema, names, rows)
        except (psycopg.errors.CheckViolation, psycopg.errors.UndefinedColumn):
            # The table changed under the writer: a prune dropped the partition it writes to,
            # or the database was recreated without the project's feature columns. Forget
            # what was known about it, put back what is missing and write once more.
            self._days.clear()
            self.ensure_columns(schema)
            self._copy(schema, names, rows)

    def _copy(self, schema: FeatureSchema, names: Sequence[str], rows: list[Any]) -> None:
        key = tuple(names)
        if key not in self._types:
            types = logtable.pg_types(schema)
            self._types[key] = [types[name] for name in names]
        at = list(names).index("ts")
        days = logtable.days_of(row[at] for row in rows) - self._days
        if days:
            self._guarded(lambda conn: logtable.ensure_partitions(conn, days))
            self._days |= days
        self._guarded(lambda conn: logtable.insert(conn, rows, names, self._types[key]))

    def _guarded(self, write: Callable[[Connection], object]) -> None:
        """Run ``write(connection)``; a connection that failed is dropped (reopened next time)."""
        try:
            write(self._connection())
        except psycopg.OperationalError:
            self.close()
            raise

    def transient(self, error: Exception) -> bool:
        """The server away (``connect()`` words that as BadInputError), the connection lost, or
        the log table missing.
        Not a protocol violation or a cancelled ``COPY``: both are OperationalErrors too, but
        they answer the data sent (a value the binary format could not carry), which a retry
        sends again."""
        if isinstance(error, psycopg.errors.ProtocolViolation | psycopg.errors.QueryCanceled):
            return False
        # a database recreated empty: its rows wait (within the patience) for `db upgrade`
        return isinstance(
            error, psycopg.OperationalError | psycopg.errors.UndefinedTable | BadInputError
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def open_sink(location: Path | DatabaseUrl) -> LogSink:
    """The sink for a log location (``Settings.log_location``)."""
    return PostgresSink(location) if isinstance(location, DatabaseUrl) else SqliteSink(location)
