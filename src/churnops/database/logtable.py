"""The inference log in PostgreSQL: the same columns and reads as ``churnops.logstore``'s SQLite
table, written with binary ``COPY``.

Feature columns are added per feature schema (``ensure_columns``), as in SQLite; the base
columns and indexes come from the migrations. Rows are written with ``COPY … FROM STDIN
(FORMAT BINARY)``: one round trip per batch and no SQL text per row.

The table is partitioned by UTC day of ``ts``: a writer creates the partitions of the days its
rows fall in (``ensure_partitions``, under an advisory lock so replicas do not race), and
``prune`` drops the partitions wholly older than a cutoff — no row-by-row delete, no bloat.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql

from churnops import logstore
from churnops.database.migrations import open_checked
from churnops.database.url import DatabaseUrl
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema

Connection = psycopg.Connection[tuple[Any, ...]]
# the SQLite log's column kinds (``logstore.typed_columns``) as PostgreSQL types
PG_TYPES = {"REAL": "float8", "TEXT": "text", "INTEGER": "int4"}
DAY_S = 86_400
PARTITION_LOCK = 0x6C6F6770  # pg_advisory_xact_lock key: "logp"
_PARTITION = re.compile(rf"^{logstore.TABLE}_(\d{{8}})$")


def pg_types(schema: FeatureSchema | None) -> dict[str, str]:
    """Every column of ``logstore.columns(schema)`` with its PostgreSQL type."""
    return {
        name: PG_TYPES[kind.split()[0]] for name, kind in logstore.typed_columns(schema).items()
    }


def ensure_columns(conn: Connection, schema: FeatureSchema) -> None:
    """Add the feature columns of ``schema`` the table lacks (older rows read NULL there)."""
    add_columns(conn, pg_types(schema))


def add_columns(conn: Connection, types: Mapping[str, str]) -> None:
    """Add the columns of ``types`` (name: PostgreSQL type) the table lacks, in one
    transaction."""
    stored = set(stored_columns(conn))
    missing = {name: kind for name, kind in types.items() if name not in stored}
    with conn.transaction():
        for name, kind in missing.items():
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                    sql.Identifier(logstore.TABLE), sql.Identifier(name), sql.SQL(kind)
                )
            )


def insert(
    conn: Connection,
    rows: Sequence[Sequence[Any]],
    names: Sequence[str],
    types: Sequence[str],
    table: str = logstore.TABLE,
) -> int:
    """Append ``rows`` (tuples in ``names`` order, of PostgreSQL ``types``) to ``table`` (the
    log, or another table of the store) in one transaction (``conn`` in autocommit mode:
    ``transaction()`` then commits; inside a transaction: a savepoint)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)
    return len(rows)


def days_of(stamps: Iterable[float]) -> set[int]:
    """The UTC days (days since the epoch) epoch-second ``stamps`` fall in."""
    return {int(ts // DAY_S) for ts in stamps}


def partition_name(day: int) -> str:
    return f"{logstore.TABLE}_{datetime.fromtimestamp(day * DAY_S, UTC):%Y%m%d}"


def ensure_partitions(conn: Connection, days: Iterable[int]) -> None:
    """Create the partitions of ``days`` that do not exist yet, in one transaction."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
        for day in sorted(days):
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})"
                ).format(
                    sql.Identifier(partition_name(day)),
                    sql.Identifier(logstore.TABLE),
                    sql.Literal(day * DAY_S),
                    sql.Literal((day + 1) * DAY_S),
                )
            )


@dataclass(frozen=True)
class Pruned:
    partitions: list[str]
    rows: int


def prune(url: DatabaseUrl, before: float) -> Pruned:
    """Drop the day partitions that end at or before ``before`` (epoch seconds), in one
    transaction; what was dropped and how many rows it held."""
    with open_checked(url) as conn:
        names = [
            str(row[0])
            for row in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = %s::regclass ORDER BY 1",
                (logstore.TABLE,),
            ).fetchall()
        ]
        old = [name for name in names if _partition_end(name) <= before]
        rows = 0
        for name in old:
            table = sql.Identifier(name)
            found = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
            rows += int(found[0]) if found else 0
            conn.execute(sql.SQL("DROP TABLE {}").format(table))
    return Pruned(old, rows)


def _partition_end(name: str) -> float:
    """Where a day partition named by ``partition_name`` ends; infinity for other tables."""
    match = _PARTITION.match(name)
    if match is None:
        return float("inf")
    start = datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).timestamp()
    return start + DAY_S


def stored_columns(conn: Connection) -> list[str]:
    """The table's columns, in order."""
    return list(stored_types(conn))


def stored_types(conn: Connection) -> dict[str, str]:
    """The table's columns, in order, with their PostgreSQL types (``float8``, ``text``…)."""
    rows = conn.execute(
        "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = %s ORDER BY ordinal_position",
        (logstore.TABLE,),
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def stored_columns_of(url: DatabaseUrl) -> list[str]:
    """The log table's columns in the database at ``url``."""
    with open_checked(url) as conn:
        return stored_columns(conn)


def read(
    url: DatabaseUrl,
    since: float | None = None,
    until: float | None = None,
    last: int | None = None,
    fields: Sequence[str] | None = None,
    schema: FeatureSchema | None = DEFAULT_SCHEMA,
) -> pd.DataFrame:
    """``logstore.read`` on the database: only the columns and the window asked for."""
    with open_checked(url) as conn:
        where = f"the inference log in {url}"
        names = logstore.chosen_columns(stored_columns(conn), fields, schema, where)
        query, params = read_query(names, since, until, last)
        with conn.cursor(binary=True) as cur:
            rows = cur.execute(query, params).fetchall()
    return pd.DataFrame.from_records(rows, columns=["id", *names]).drop(columns="id")


def read_query(
    names: list[str], since: float | None, until: float | None, last: int | None
) -> tuple[sql.Composed, list[float]]:
    """The query ``read`` runs and its parameters: ``last`` walks the index on id (migration 3)
    backwards in each day partition, so it reads ``last`` rows, not the log."""
    where, params = [], []
    if since is not None:
        where.append(sql.SQL("ts >= %s"))
        params.append(since)
    if until is not None:
        where.append(sql.SQL("ts < %s"))
        params.append(until)
    shown = sql.SQL(", ").join(map(sql.Identifier, ["id", *names]))
    query = sql.SQL("SELECT {} FROM {}").format(shown, sql.Identifier(logstore.TABLE))
    if where:
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
    if last is not None:
        query = sql.SQL("SELECT * FROM ({} ORDER BY id DESC LIMIT {}) AS newest").format(
            query, sql.Literal(int(last))
        )
    return query + sql.SQL(" ORDER BY id"), params
