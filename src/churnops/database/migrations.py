"""Versioned schema: numbered SQL files applied in order, each version recorded.

``migrations/NNNN_name.sql`` holds version NNNN. ``upgrade`` applies every version the database
lacks in one transaction (under an advisory lock, so two upgrades at once apply each file once)
and records them in ``churnops_schema``. Every other use of the database first checks that its
version is exactly the code's (``check``): an older database needs ``churnops db upgrade``, a
newer one a newer churnops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

from churnops.database.connection import connect
from churnops.database.url import DatabaseUrl
from churnops.errors import BadInputError

VERSION_TABLE = "churnops_schema"
UPGRADE_LOCK = 0x636875726E  # pg_advisory_xact_lock key: "churn"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# the registry never held anything: its single row, if deleted by hand, may start over empty
REGISTRY_UNUSED = (
    "NOT EXISTS (SELECT 1 FROM registry_history) AND NOT EXISTS (SELECT 1 FROM registry_artifacts)"
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class Upgraded:
    before: int
    after: int
    recreated_registry: bool = False  # the empty registry's deleted row was put back


def migrations() -> list[Migration]:
    """The code's migrations, by version (1, 2, … with no gap)."""
    found = []
    for entry in resources.files("churnops.database").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    assert [m.version for m in found] == list(range(1, len(found) + 1)), "migration numbering"
    return found


def latest() -> int:
    return len(migrations())


def stored_version(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    """The database's schema version (0: churnops never upgraded it)."""
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,)).fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def upgrade(url: DatabaseUrl) -> Upgraded:
    """Apply the missing migrations in one transaction; refuses a database newer than the code."""
    with connect(url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (UPGRADE_LOCK,))
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version integer PRIMARY KEY, "
            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        before = stored_version(conn)
        _refuse_newer(url, before)
        for migration in migrations()[before:]:
            conn.execute(migration.sql.encode())  # bytes: several statements, no parameters
            conn.execute(
                f"INSERT INTO {VERSION_TABLE} (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
        recreated = conn.execute(
            "INSERT INTO registry_state (id, document) SELECT 1, '{}' "
            f"WHERE {REGISTRY_UNUSED} ON CONFLICT (id) DO NOTHING"
        ).rowcount
    return Upgraded(before, latest(), recreated_registry=recreated > 0)


def check(url: DatabaseUrl, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """``BadInputError`` unless the database's schema is exactly the code's."""
    version = stored_version(conn)
    conn.rollback()  # leave no transaction open on the caller's connection
    _refuse_newer(url, version)
    if version < latest():
        raise BadInputError(
            f"database {url} has schema version {version}, this churnops needs {latest()}: "
            "run `churnops db upgrade`"
        )


def _refuse_newer(url: DatabaseUrl, version: int) -> None:
    if version > latest():
        raise BadInputError(
            f"database {url} has schema version {version}, written by a newer churnops (this "
            f"one knows up to {latest()}): upgrade churnops"
        )


def open_checked(url: DatabaseUrl, autocommit: bool = False) -> psycopg.Connection[tuple[Any, ...]]:
    """A connection to a database whose schema is the code's (else ``BadInputError``)."""
    conn = connect(url, autocommit=autocommit)
    try:
        check(url, conn)
    except BaseException:
        conn.close()
        raise
    return conn
