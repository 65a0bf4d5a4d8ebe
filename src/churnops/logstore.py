"""The inference log's storage: one SQLite table, written by the API, read by drift and export.

One row per answered prediction. Timestamps are UTC epoch seconds (REAL) so windows are
cheap indexed range scans; each schema feature has its own column so drift reads columns,
not JSON. WAL mode and a busy timeout let several API workers append while drift reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from churnops.database.url import DatabaseUrl
from churnops.errors import BadInputError
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema

TABLE = "inference_log"
BUSY_TIMEOUT_MS = 30_000
ROWS_PER_STATEMENT = 500

# Experiment columns, NULL outside an experiment: ``variant`` is "champion" or "challenger"
# (the arm that answered), ``variant_random`` 1 when a request without a customer id was
# assigned at random, ``experiment_id`` the registry's experiment; in shadow mode the answer
# is the champion's and ``shadow_version`` / ``shadow_probability`` hold the challenger's.
EXPERIMENT_COLUMNS: dict[str, str] = {
    "variant": "TEXT",
    "variant_random": "INTEGER",
    "experiment_id": "TEXT",
    "shadow_version": "INTEGER",
    "shadow_probability": "REAL",
}


# Names PostgreSQL gives every table itself: a feature column cannot take them.
SYSTEM_COLUMNS = frozenset({"tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"})
# At most this many feature columns: PostgreSQL allows 1,600 columns per table (SQLite
# 2,000), and the log has its own columns beside the features.
MAX_FEATURES = 1_500


def prediction_columns(schema: FeatureSchema | None = DEFAULT_SCHEMA) -> list[str]:
    """What every logged prediction has: ``columns()`` without the experiment columns (and
    without feature columns for ``None``)."""
    return [
        "ts",
        "request_id",
        "customer_id",
        "model_version",
        *(schema.feature_names if schema is not None else []),
        "probability",
        "decision",
        "latency_ms",
    ]


def columns(schema: FeatureSchema | None = DEFAULT_SCHEMA) -> list[str]:
    """Column order of the table (and of the tuples ``insert`` takes), after the id."""
    return [*prediction_columns(schema), *EXPERIMENT_COLUMNS]


def quoted(name: str) -> str:
    """An SQL identifier, quoted: a feature may be named like a keyword (``order``)."""
    return '"' + name.replace('"', '""') + '"'


def typed_columns(schema: FeatureSchema | None) -> dict[str, str]:
    """Every column of ``columns(schema)`` with its SQL type and constraint (no feature columns
    for ``None``)."""
    numeric = schema.numeric_names if schema is not None else []
    categorical = schema.categorical_names if schema is not None else []
    return {
        "ts": "REAL NOT NULL",
        "request_id": "TEXT NOT NULL",
        "customer_id": "TEXT",
        "model_version": "INTEGER NOT NULL",
        **{name: "REAL" for name in numeric},
        **{name: "TEXT" for name in categorical},
        "probability": "REAL NOT NULL",
        "decision": "INTEGER NOT NULL",
        "latency_ms": "REAL NOT NULL",
        **EXPERIMENT_COLUMNS,
    }


def _create(conn: sqlite3.Connection, schema: FeatureSchema | None) -> None:
    """Create the table, or add the columns it lacks: a log written for one feature schema
    (or by an older churnops) takes rows of another; older rows read NULL there.

    Runs in one ``BEGIN IMMEDIATE`` transaction: the check and the ``ALTER TABLE`` happen under
    the write lock, so API workers adding the same columns at once do not collide."""
    typed = typed_columns(schema)
    body = ", ".join(f"{quoted(name)} {kind}" for name, kind in typed.items())
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY, {body})")
        stored = {row[1] for row in conn.execute(f"PRAGMA table_info({TABLE})")}
        for name, kind in typed.items():
            if name not in stored:  # added columns cannot be NOT NULL: old rows have no value
                nullable = kind.replace(" NOT NULL", "")
                conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN {quoted(name)} {nullable}")
        conn.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_ts ON {TABLE} (ts)")
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def connect(
    path: Path,
    schema: FeatureSchema | None = DEFAULT_SCHEMA,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
) -> sqlite3.Connection:
    """Open (creating if needed) the log database in WAL mode, with the columns of ``schema``
    (``None``: only the ones every row has; ``ensure_columns`` adds a schema's later); a
    statement waits up to ``busy_timeout_ms`` for another writer's lock."""
    conn = open_database(path, busy_timeout_ms)
    _create(conn, schema)
    return conn


def open_database(path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """Open (creating if needed) the SQLite file of the log — and of the outcomes beside it —
    in WAL mode, so several writers and readers share it; a statement waits up to
    ``busy_timeout_ms`` for another writer's lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def ensure_columns(conn: sqlite3.Connection, schema: FeatureSchema) -> None:
    """Make the table take rows of ``schema`` (when the API starts serving another one)."""
    _create(conn, schema)


def insert(
    conn: sqlite3.Connection,
    rows: Iterable[Sequence[Any]],
    schema: FeatureSchema = DEFAULT_SCHEMA,
    names: Sequence[str] | None = None,
) -> int:
    """Append rows (tuples in ``names`` order, default ``columns()``) in one transaction;
    returns the count. Columns left out of ``names`` are NULL.

    Rows go in multi-row ``INSERT … VALUES (…), (…), …`` statements of up to 500 rows rather
    than ``executemany``, which steps once per row and releases Python's GIL around each
    step: in the API the writer thread would then take the GIL back from the request thread
    thousands of times a second (measured: ~15% of a worker's requests/s). This way costs
    less CPU too (3.0 vs 3.5 µs a row) and stores exactly what ``executemany`` would."""
    batch = list(rows)
    names = list(names or columns(schema))
    width = len(names)
    per_statement = max(
        1, min(ROWS_PER_STATEMENT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    )
    head = f"INSERT INTO {TABLE} ({', '.join(map(quoted, names))}) VALUES "
    one_row = "(" + ", ".join("?" * width) + ")"
    with conn:
        for start in range(0, len(batch), per_statement):
            chunk = batch[start : start + per_statement]
            conn.execute(
                head + ", ".join([one_row] * len(chunk)), [v for row in chunk for v in row]
            )
    return len(batch)


def prune(location: Path | DatabaseUrl, before: float) -> int:
    """Delete the rows logged before ``before`` (epoch seconds); how many. In PostgreSQL whole
    day partitions are dropped, so the rows of a day partly after the cutoff stay."""
    if isinstance(location, DatabaseUrl):
        from churnops.database import logtable

        return logtable.prune(location, before).rows
    if not location.exists():
        return 0
    conn = connect(location, None)
    try:
        with conn:
            return conn.execute(f"DELETE FROM {TABLE} WHERE ts < ?", (before,)).rowcount
    finally:
        conn.close()


def open_read_only(path: Path) -> sqlite3.Connection:
    """The log's file, opened for reading only (nothing created or changed)."""
    uri = path.resolve().as_uri() + "?mode=ro"  # percent-encoded: any file name works
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)


def unreadable(path: Path, exc: sqlite3.Error) -> BadInputError:
    return BadInputError(
        f"{path} is not a readable inference log ({exc}); move it aside (the API starts a "
        "new one on its next start) or check --home / CHURNOPS_HOME"
    )


def _stored(conn: sqlite3.Connection, path: Path) -> list[str]:
    stored = [row[1] for row in conn.execute(f"PRAGMA table_info({TABLE})")]
    if not stored:
        raise BadInputError(
            f"{path} has no {TABLE} table, so it is not an inference log; move it aside (the "
            "API creates a new one on its next start) or check --home / CHURNOPS_HOME"
        )
    return stored


def exists(location: Path | DatabaseUrl) -> bool:
    """Whether a log is there to read (a database's log table comes with its schema)."""
    return isinstance(location, DatabaseUrl) or location.exists()


def require(location: Path | DatabaseUrl, otherwise: str = "") -> None:
    """Refuse (``BadInputError``) to read a log that is not there yet, saying how to get one;
    ``otherwise`` adds what else the command can read instead (", or …")."""
    if not exists(location):
        raise BadInputError(
            f"{location} does not exist yet: start the API (`churnops serve`) and send it "
            f"predictions first{otherwise}"
        )


def stored_columns(location: Path | DatabaseUrl) -> list[str]:
    """The columns the log's table really has (a log written by an older schema may lack
    features); [] when there is no log yet. Unreadable files raise ``BadInputError``."""
    if isinstance(location, DatabaseUrl):
        from churnops.database import logtable  # PostgreSQL's driver, only when used

        return logtable.stored_columns_of(location)
    path = location
    if not path.exists():
        return []
    try:
        conn = open_read_only(path)
        try:
            return _stored(conn, path)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise unreadable(path, exc) from exc


def read(
    location: Path | DatabaseUrl,
    since: float | None = None,
    until: float | None = None,
    last: int | None = None,
    fields: Sequence[str] | None = None,
    schema: FeatureSchema | None = DEFAULT_SCHEMA,
) -> pd.DataFrame:
    """Rows with ``since <= ts < until`` (epoch seconds) and/or the newest ``last`` ones, oldest
    first, from the SQLite file or the PostgreSQL database; only ``fields`` if given, else the
    columns of ``schema`` — or, for ``None``, every column the log has (the features of every
    schema it served; NULL where a row's schema has no such feature). Built from ``fetchall``
    (2-3x faster than ``read_sql``).

    A file that is not a readable log (garbage, no table, a folder) or lacks a requested column
    raises ``BadInputError`` naming the file and what to do."""
    if schema is not None:
        unknown = [name for name in fields or () if name not in columns(schema)]
        if unknown:
            raise ValueError(f"unknown inference-log column(s): {unknown}")
    if isinstance(location, DatabaseUrl):
        from churnops.database import logtable

        return logtable.read(location, since, until, last, fields, schema)
    path = location
    if not path.exists():
        return pd.DataFrame(columns=list(fields or columns(schema)))
    where, params = [], []
    if since is not None:
        where.append("ts >= ?")
        params.append(since)
    if until is not None:
        where.append("ts < ?")
        params.append(until)
    try:
        conn = open_read_only(path)
        try:
            names = chosen_columns(_stored(conn, path), fields, schema, str(path))
            rows = conn.execute(_select(names, where, last), params).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise unreadable(path, exc) from exc
    return pd.DataFrame.from_records(rows, columns=["id", *names]).drop(columns="id")


def chosen_columns(
    stored: list[str], fields: Sequence[str] | None, schema: FeatureSchema | None, where: str
) -> list[str]:
    """The columns a read returns (``fields``, else those of ``schema``, else every stored
    one); ``BadInputError`` when the log at ``where`` lacks some."""
    every = [name for name in stored if name != "id"]
    names = list(fields or (columns(schema) if schema is not None else every))
    absent = [name for name in names if name not in stored]
    if absent:
        raise BadInputError(
            f"{where} has no column {', '.join(absent)} (written by an older churnops?); "
            "read only the columns it has, or move it aside to start a new log"
        )
    return names


def _select(names: list[str], where: list[str], last: int | None) -> str:
    sql = f"SELECT id, {', '.join(map(quoted, names))} FROM {TABLE}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if last is not None:
        sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT {int(last)})"
    return sql + " ORDER BY id"
