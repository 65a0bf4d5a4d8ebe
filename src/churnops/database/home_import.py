"""Copying a project's SQLite inference log and outcomes into the database (``churnops db
import``): the log's rows with every column the file has (the feature columns of whichever
schemas it served: the database's log gains those it lacks), the outcomes and their
corrections.

Idempotent, by natural key: a row of the file is not copied when the database already holds
its key — a logged request (request id and time: the rows of one batch request travel
together), an outcome (request id, customer id), a correction (its outcome and when it was
made). A second run copies nothing; a file that grew since copies only its new rows.

Verified: before committing, each table's rows with the file's keys are read back from the
database and compared with the file's — their count, and a checksum of their content (the sum
of one 64-bit hash per row, so the order does not matter). A difference is an error and the
data transaction rolls back: the rows are copied whole or not at all. The columns added and
the day partitions created before it are committed on their own: nullable columns and empty
partitions change no answer, and the next run finds them there. Recording outcomes (``labels
import``, ``POST /feedback``) waits while the transaction runs; the log's writers do not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.util import hash_pandas_object
from psycopg import sql

from churnops import logstore
from churnops.database import logtable
from churnops.database.logtable import Connection
from churnops.database.migrations import open_checked
from churnops.database.url import DatabaseUrl
from churnops.errors import BadInputError, CheckFailedError

CHUNK_ROWS = 20_000
IMPORT_LOCK = 0x696D706F  # pg_advisory_xact_lock key: "impo" — one import at a time
# the SQLite storage classes (typeof) each PostgreSQL column type takes
TAKES = {"float8": ("real", "integer"), "int4": ("integer",), "text": ("text",)}
INT4 = (-(2**31), 2**31 - 1)
OUTCOME_COLUMNS = ["request_id", "customer_id", "outcome", "observed_at", "recorded_at", "source"]
OUTCOME_TYPES = ["text", "text", "int2", "float8", "float8", "text"]
CHANGE_COLUMNS = [
    "request_id",
    "customer_id",
    "old_outcome",
    "new_outcome",
    "old_observed_at",
    "new_observed_at",
    "changed_at",
    "source",
]
CHANGE_TYPES = ["text", "text", "int2", "int2", "float8", "float8", "float8", "text"]
CHANGES_OF = "FROM outcome_changes c JOIN outcomes o ON o.id = c.outcome_id"

Rows = Sequence[Sequence[Any]]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Part:
    """One table as the file and the database both read it: ``source`` (SQLite) selects the
    file's row id then ``columns``, oldest first; ``target`` (PostgreSQL) selects ``columns``.
    ``keys`` (some of ``columns``) name a row; ``write`` appends rows (``columns`` order)."""

    table: str
    columns: list[str]
    types: list[str]
    keys: list[str]
    source: str
    target: str
    write: Callable[[Connection, Rows], object]


@dataclass(frozen=True)
class TableImported:
    table: str
    rows: int  # in the file
    copied: int  # of which copied by this run (the others were there already)
    checksum: str  # of the rows' content: the file's and the database's (they are equal)


@dataclass(frozen=True)
class LogPlan:
    """What importing a log file means: checked against the database before anything is
    written (``plan``)."""

    path: Path
    parts: list[Part]
    rows: int  # in all parts (when planned)
    added_columns: dict[str, str]  # log columns the database lacks, with their types


def plan(path: Path, url: DatabaseUrl) -> LogPlan:
    """Check that the log file at ``path`` fits the database's log (``BadInputError`` saying
    what does not, nothing written) and say what importing it copies."""
    if not path.is_file():
        raise BadInputError(
            f"there is no inference log at {path}; check --from (the project folder) — or pass "
            "--registry-only to copy only the registry"
        )
    with _source(path) as source, open_checked(url) as conn:
        declared = _declared(source, path)
        stored = logtable.stored_types(conn)
        types = _fitting_types(declared, stored, path)
        _check_values(source, types, path)
        parts = [_log_part(types)]
        if _has_table(source, "outcomes"):
            parts += [_outcome_part(), _change_part()]
        rows = sum(_count(source, part) for part in parts)
    added = {name: kind for name, kind in types.items() if name not in stored}
    return LogPlan(path, parts, rows, added)


def import_log(
    planned: LogPlan,
    url: DatabaseUrl,
    copied: Progress | None = None,
    checked: Progress | None = None,
) -> list[TableImported]:
    """Copy what ``planned`` says into the database, verified, in one transaction (see the
    module's text); ``copied(n)`` and ``checked(n)`` count rows read for each step."""
    with _source(planned.path) as source, open_checked(url) as conn:
        source.execute("BEGIN")  # one snapshot of the file: an API still logging to it is fine
        logtable.add_columns(conn, planned.added_columns)
        logtable.ensure_partitions(conn, _days(source))
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (IMPORT_LOCK,))
            conn.execute("LOCK TABLE outcomes IN SHARE ROW EXCLUSIVE MODE")  # as recording does
            done = [_import_part(source, conn, part, copied or _quiet) for part in planned.parts]
            for part, (_, expected) in zip(planned.parts, done, strict=True):
                _verify(conn, part, expected, checked or _quiet)
    return [imported for imported, _ in done]


def _quiet(rows: int) -> None:
    """No progress shown."""


# ---- the parts ------------------------------------------------------------------------------
def _log_part(types: dict[str, str]) -> Part:
    columns = list(types)
    shown = ", ".join(map(logstore.quoted, columns))
    return Part(
        table=logstore.TABLE,
        columns=columns,
        types=list(types.values()),
        keys=["request_id", "ts"],
        source=f"SELECT id, {shown} FROM {logstore.TABLE} ORDER BY id",
        target=f"SELECT {shown} FROM {logstore.TABLE}",
        write=lambda conn, rows: logtable.insert(conn, rows, columns, list(types.values())),
    )


def _outcome_part() -> Part:
    shown = ", ".join(OUTCOME_COLUMNS)
    return Part(
        table="outcomes",
        columns=OUTCOME_COLUMNS,
        types=OUTCOME_TYPES,
        keys=["request_id", "customer_id"],
        source=f"SELECT id, {shown} FROM outcomes ORDER BY id",
        target=f"SELECT {shown} FROM outcomes",
        write=lambda conn, rows: logtable.insert(
            conn, rows, OUTCOME_COLUMNS, OUTCOME_TYPES, table="outcomes"
        ),
    )


def _change_part() -> Part:
    """Corrections name their outcome by its row id, which differs between the file and the
    database: both sides read it as its key, and the copy looks the database's id up."""
    values = ", ".join(f"c.{name}" for name in CHANGE_COLUMNS[2:])
    return Part(
        table="outcome_changes",
        columns=CHANGE_COLUMNS,
        types=CHANGE_TYPES,
        keys=["request_id", "customer_id", "changed_at"],
        source=f"SELECT c.id, o.request_id, o.customer_id, {values} {CHANGES_OF} ORDER BY c.id",
        target=f"SELECT o.request_id, o.customer_id, {values} {CHANGES_OF}",
        write=_write_changes,
    )


def _write_changes(conn: Connection, rows: Rows) -> None:
    """Corrections are few (one per changed outcome): one statement each."""
    named = ", ".join(CHANGE_COLUMNS[2:])
    values = ", ".join(["%s"] * len(CHANGE_COLUMNS[2:]))
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO outcome_changes (outcome_id, {named}) SELECT id, {values} "
            "FROM outcomes WHERE request_id = %s AND customer_id = %s",
            [(*row[2:], row[0], row[1]) for row in rows],
        )


# ---- copying and verifying ------------------------------------------------------------------
def _import_part(
    source: sqlite3.Connection, conn: Connection, part: Part, copied: Progress
) -> tuple[TableImported, tuple[int, int]]:
    """Copy the part's rows whose key the database lacks; what was done, and the file's count
    and checksum."""
    keys = _load_keys(source, conn, part)
    present = np.array(
        [row[0] for row in conn.execute(_present_query(part, keys)).fetchall()], dtype=np.int64
    )
    count = total = written = 0
    cur = source.execute(part.source)
    while rows := cur.fetchmany(CHUNK_ROWS):
        values = [row[1:] for row in rows]
        count += len(rows)
        total += checksum(values, part.types)
        if present.size:
            ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            fresh = ~np.isin(ids, present)
            values = [row for row, new in zip(values, fresh, strict=True) if new]
        if values:
            part.write(conn, values)
            written += len(values)
        copied(len(rows))
    imported = TableImported(part.table, count, written, f"{total % 2**64:016x}")
    return imported, (count, total % 2**64)


def _load_keys(source: sqlite3.Connection, conn: Connection, part: Part) -> str:
    """A temporary table (dropped at commit) of the file's row ids and keys; its name."""
    name = f"import_{part.table}"
    kinds = [part.types[part.columns.index(key)] for key in part.keys]
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(key), sql.SQL(kind))
        for key, kind in zip(part.keys, kinds, strict=True)
    )
    conn.execute(
        sql.SQL("CREATE TEMPORARY TABLE {} (source_id bigint, {}) ON COMMIT DROP").format(
            sql.Identifier(name), columns
        )
    )
    chosen = ", ".join(["id", *map(logstore.quoted, part.keys)])
    cur = source.execute(f"SELECT {chosen} FROM ({part.source})")
    while rows := cur.fetchmany(CHUNK_ROWS):
        logtable.insert(conn, rows, ["source_id", *part.keys], ["int8", *kinds], table=name)
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(name)))
    return name


def _same_key(part: Part) -> sql.Composable:
    return sql.SQL(" AND ").join(
        sql.SQL("p.{0} = k.{0}").format(sql.Identifier(key)) for key in part.keys
    )


def _present_query(part: Part, keys: str) -> sql.Composed:
    """The file's row ids whose key the database holds."""
    return sql.SQL(
        "SELECT k.source_id FROM {} k WHERE EXISTS (SELECT 1 FROM ({}) p WHERE {})"
    ).format(sql.Identifier(keys), sql.SQL(part.target), _same_key(part))  # type: ignore[arg-type]


def _verify(conn: Connection, part: Part, expected: tuple[int, int], checked: Progress) -> None:
    """``CheckFailedError`` unless the database's rows with the file's keys are the file's."""
    query = sql.SQL("SELECT p.* FROM ({}) p WHERE EXISTS (SELECT 1 FROM {} k WHERE {})").format(
        sql.SQL(part.target),  # type: ignore[arg-type]
        sql.Identifier(f"import_{part.table}"),
        _same_key(part),
    )
    count = total = 0
    with conn.cursor(name=f"check_{part.table}", binary=True) as cur:
        cur.itersize = CHUNK_ROWS
        cur.execute(query)
        while rows := cur.fetchmany(CHUNK_ROWS):
            count += len(rows)
            total += checksum(rows, part.types)
            checked(len(rows))
    if (count, total % 2**64) != expected:
        raise CheckFailedError(
            f"{part.table}: the database holds {count:,} rows with the keys of the file's "
            f"{expected[0]:,}, and their content differs (checksum {total % 2**64:016x}, the "
            f"file's {expected[1]:016x}) — nothing was imported; the database already held "
            "different rows under the same request ids / outcomes"
        )


def checksum(rows: Rows, types: Sequence[str]) -> int:
    """The sum of one 64-bit hash per row (pandas' stable hash of each value), so two sets of
    rows with the same values have the same checksum whatever their order or the Python type
    a driver gave a number (an int and a float of one value hash alike)."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in types]
    frame = pd.DataFrame(
        {
            str(i): np.array(values, dtype=object if kind == "text" else np.float64)
            for i, (values, kind) in enumerate(zip(columns, types, strict=True))
        },
        copy=False,
    )
    hashes = hash_pandas_object(frame, index=False, categorize=False).to_numpy()
    return int(hashes.sum(dtype=np.uint64))


# ---- what the file holds --------------------------------------------------------------------
@contextmanager
def _source(path: Path) -> Iterator[sqlite3.Connection]:
    """The file, read only; an unreadable one is a ``BadInputError`` naming it."""
    try:
        conn = logstore.open_read_only(path)
        try:
            yield conn
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise logstore.unreadable(path, exc) from exc


def _has_table(source: sqlite3.Connection, name: str) -> bool:
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return source.execute(query, (name,)).fetchone() is not None


def _declared(source: sqlite3.Connection, path: Path) -> dict[str, str]:
    """The log's columns (its id aside) with their declared SQLite types."""
    declared = {
        str(row[1]): str(row[2]).split(" ")[0].upper()
        for row in source.execute(f"PRAGMA table_info({logstore.TABLE})")
    }
    lacking = [name for name in logstore.prediction_columns(None) if name not in declared]
    if lacking:
        raise BadInputError(
            f"{path} is not a churnops inference log (no column {', '.join(lacking)}); check "
            "--from — nothing was imported"
        )
    declared.pop("id", None)
    return declared


def _fitting_types(declared: dict[str, str], stored: dict[str, str], path: Path) -> dict[str, str]:
    """The PostgreSQL type of each of the file's columns; ``BadInputError`` for a column the
    database's log cannot take (an unknown type, or another type than the database's)."""
    types = {}
    for name, kind in declared.items():
        wanted = logtable.PG_TYPES.get(kind)
        if wanted is None:
            raise BadInputError(
                f"{path}: column {name!r} has type {kind or 'none'}, which the database's "
                f"log cannot take (it takes {', '.join(logtable.PG_TYPES)}) — nothing was imported"
            )
        if stored.get(name, wanted) != wanted:
            raise BadInputError(
                f"{path}: column {name!r} holds {kind} values but the database's log holds "
                f"{stored[name]} there, so its rows do not fit — nothing was imported"
            )
        types[name] = wanted
    return types


def _check_values(source: sqlite3.Connection, types: dict[str, str], path: Path) -> None:
    """``BadInputError`` when a value does not fit its column's type (SQLite keeps any value
    in any column), or a column every row has is empty somewhere."""
    required = {name for name, kind in logstore.typed_columns(None).items() if "NOT NULL" in kind}
    tests = []
    for name, kind in types.items():
        column = logstore.quoted(name)
        storage = [*TAKES[kind], *([] if name in required else ["null"])]
        test = f"typeof({column}) NOT IN ({', '.join(map(repr, storage))})"
        if kind == "int4":
            test += f" OR {column} NOT BETWEEN {INT4[0]} AND {INT4[1]}"
        tests.append(f"SUM(CASE WHEN {test} THEN 1 ELSE 0 END)")
    found = source.execute(f"SELECT {', '.join(tests)} FROM {logstore.TABLE}").fetchone()
    for (name, kind), bad in zip(types.items(), found or (), strict=True):
        if bad:
            raise BadInputError(
                f"{path}: column {name!r} holds {bad:,} value(s) that do not fit its type "
                f"({kind}{', never empty' if name in required else ''}) — nothing was imported"
            )


def _days(source: sqlite3.Connection) -> set[int]:
    """The UTC days the log's rows fall in (``logtable.days_of``, in SQL)."""
    query = f"SELECT DISTINCT CAST(ts / {logtable.DAY_S} AS INTEGER) FROM {logstore.TABLE}"
    return {int(day) for (day,) in source.execute(query)}


def _count(source: sqlite3.Connection, part: Part) -> int:
    found = source.execute(f"SELECT COUNT(*) FROM ({part.source})").fetchone()
    return int(found[0]) if found else 0
