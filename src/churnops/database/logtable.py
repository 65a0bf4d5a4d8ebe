"""The inference log in PostgreSQL: the same columns and reads as ``churnops.logstore``'s SQLite
table, written with binary ``COPY``.

Feature columns are added per feature schema (``ensure_columns``), as in SQLite; the base
columns and indexes come from the migrations. Rows are written with ``COPY … FROM STDIN
(FORMAT BINARY)``: one round trip per batch and no SQL text per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql

from churnops import logstore
from churnops.database.migrations import open_checked
from churnops.database.url import DatabaseUrl
from churnops.errors import BadInputError
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema

Connection = psycopg.Connection[tuple[Any, ...]]
# the SQLite log's column kinds (``logstore.typed_columns``) as PostgreSQL types
PG_TYPES = {"REAL": "float8", "TEXT": "text", "INTEGER": "int4"}


def pg_types(schema: FeatureSchema | None) -> dict[str, str]:
    """Every column of ``logstore.columns(schema)`` with its PostgreSQL type."""
    return {
        name: PG_TYPES[kind.split()[0]] for name, kind in logstore.typed_columns(schema).items()
    }


def ensure_columns(conn: Connection, schema: FeatureSchema) -> None:
    """Add the feature columns of ``schema`` the table lacks (older rows read NULL there)."""
    stored = set(stored_columns(conn))
    missing = {name: kind for name, kind in pg_types(schema).items() if name not in stored}
    with conn.transaction():
        for name, kind in missing.items():
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                    sql.Identifier(logstore.TABLE), sql.Identifier(name), sql.SQL(kind)
                )
            )


def insert(
    conn: Connection, rows: Sequence[Sequence[Any]], names: Sequence[str], types: Sequence[str]
) -> int:
    """Append ``rows`` (tuples in ``names`` order, of PostgreSQL ``types``) in one transaction
    (``conn`` in autocommit mode: ``transaction()`` then commits)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(logstore.TABLE), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)
    return len(rows)


def stored_columns(conn: Connection) -> list[str]:
    """The table's columns, in order."""
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = %s ORDER BY ordinal_position",
        (logstore.TABLE,),
    ).fetchall()
    return [str(row[0]) for row in rows]


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
        stored = stored_columns(conn)
        every = [name for name in stored if name != "id"]
        names = list(fields or (logstore.columns(schema) if schema is not None else every))
        absent = [name for name in names if name not in stored]
        if absent:
            raise BadInputError(
                f"the inference log in {url} has no column {', '.join(absent)}; read only the "
                "columns it has"
            )
        query, params = _select(names, since, until, last)
        with conn.cursor(binary=True) as cur:
            rows = cur.execute(query, params).fetchall()
    return pd.DataFrame.from_records(rows, columns=["id", *names]).drop(columns="id")


def _select(
    names: list[str], since: float | None, until: float | None, last: int | None
) -> tuple[sql.Composed, list[float]]:
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
