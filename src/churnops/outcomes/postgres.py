"""The outcome store in PostgreSQL: the same statements as in SQLite (``SqlOutcomeStore``),
on the tables the migrations create."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from churnops import logstore
from churnops.database import logtable
from churnops.database.migrations import open_checked
from churnops.database.url import DatabaseUrl
from churnops.outcomes.store import LOCK_WAIT_S, Session, SqlOutcomeStore

_NAMED = re.compile(r":([a-z_]+)")


def placeholders(sql: str) -> str:
    """SQLite's ``?`` and ``:name`` placeholders as psycopg's ``%s`` and ``%(name)s``."""
    return _NAMED.sub(r"%(\1)s", sql.replace("?", "%s"))


class _PostgresSession:
    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        self.conn = conn
        # the table comes with the schema: "logged" means a prediction was, as for SQLite
        found = conn.execute(f"SELECT EXISTS (SELECT 1 FROM {logstore.TABLE})").fetchone()
        self.logged = bool(found and found[0])

    def rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        cur = self.conn.execute(placeholders(sql).encode(), params or None)
        return cur.fetchall() if cur.description is not None else []

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(placeholders(sql).encode(), rows)

    def log_columns(self) -> set[str]:
        return set(logtable.stored_columns(self.conn))


class PostgresOutcomeStore(SqlOutcomeStore):
    """Outcomes in the shared database (a connection per call: thread-safe)."""

    def __init__(
        self, url: DatabaseUrl, window_days: float, lock_wait: float = LOCK_WAIT_S
    ) -> None:
        super().__init__(window_days, lock_wait)
        self.url = url
        self.where = f"the database {url}"

    @contextmanager
    def _session(self, write: bool) -> Iterator[Session]:
        with open_checked(self.url) as conn, conn.transaction():
            if write:  # one recorder at a time, as SQLite's BEGIN IMMEDIATE; readers go on
                self._lock(conn)
            else:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield _PostgresSession(conn)

    def _lock(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        """The recorders' lock, waited for ``lock_wait`` seconds at most."""
        wait = f"{max(1, round(self.lock_wait * 1000))}ms"  # 0 would mean: wait forever
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (wait,))
        try:
            conn.execute("LOCK TABLE outcomes IN SHARE ROW EXCLUSIVE MODE")
        except psycopg.errors.LockNotAvailable as exc:
            raise self._busy() from exc
