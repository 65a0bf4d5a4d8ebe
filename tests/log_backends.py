"""The two homes of the inference log and the outcomes — the SQLite file and PostgreSQL — behind
one helper, so a behaviour test runs unchanged on both."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from churnops.database.url import DatabaseUrl
from churnops.registry.postgres import PostgresRegistry
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema
from churnops.serving.log_sinks import open_sink
from churnops.settings import load_settings

BACKENDS = ("sqlite", "postgres")


@dataclass(frozen=True)
class LogBackend:
    name: str
    location: Path | DatabaseUrl

    def append(
        self,
        rows: Sequence[Sequence[Any]],
        names: Sequence[str],
        schema: FeatureSchema = DEFAULT_SCHEMA,
    ) -> None:
        """Log ``rows`` (tuples in ``names`` order) as the API's writer does."""
        sink = open_sink(self.location)
        sink.open()
        try:
            sink.ensure_columns(schema)
            sink.insert(schema, names, list(rows))
        finally:
            sink.close()

    def count(self, table: str) -> int:
        """Rows in ``table`` (0 when it does not exist yet)."""
        query = f"SELECT COUNT(*) FROM {table}"
        if isinstance(self.location, DatabaseUrl):
            with psycopg.connect(self.location.value) as conn:
                found = conn.execute(query.encode()).fetchone()
        else:
            import sqlite3

            if not self.location.exists():
                return 0
            with sqlite3.connect(self.location) as conn:
                found = conn.execute(query).fetchone()
        return int(found[0]) if found else 0


def use_database(home: Path, location: Path | DatabaseUrl, monkeypatch: pytest.MonkeyPatch) -> None:
    """For the PostgreSQL backend: set CHURNOPS_DATABASE_URL and copy ``home``'s trained
    registry into the database (`churnops db import`), so the API and the commands find the
    same versions there. Nothing for SQLite."""
    if not isinstance(location, DatabaseUrl):
        return
    monkeypatch.setenv("CHURNOPS_DATABASE_URL", location.value)
    settings = load_settings(home=home)
    files = Registry(settings.model_copy(update={"database_url": None}))
    PostgresRegistry(settings, location).import_from(files)
