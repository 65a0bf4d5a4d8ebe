"""`churnops logs prune --older-than`: old predictions go, newer ones stay, on both backends."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from cli_support import RunCli
from log_backends import LogBackend

from churnops import logstore
from churnops.database.url import DatabaseUrl

DAY = 86_400.0
FEATURES = (12, 65.5, 786.0, "Month-to-month", "Electronic check")


def _log(db: LogBackend, *stamps: float) -> None:
    rows = [(ts, f"r{i}", "C1", 1, *FEATURES, 0.5, 1, 1.0) for i, ts in enumerate(stamps)]
    db.append(rows, logstore.prediction_columns())


@pytest.fixture
def home(
    log_backend: LogBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, LogBackend]:
    """A project home whose log (SQLite under it, or PostgreSQL) the CLI finds."""
    home = tmp_path / "home"
    if isinstance(log_backend.location, DatabaseUrl):
        monkeypatch.setenv("CHURNOPS_DATABASE_URL", log_backend.location.value)
        return home, log_backend
    return home, LogBackend("sqlite", home / "logs" / "inference.sqlite")


def test_prune_removes_what_is_older_than_the_cutoff(
    home: tuple[Path, LogBackend], run_cli: RunCli
) -> None:
    folder, db = home
    _log(db, 5 * DAY + 1, 5 * DAY + 100, 20 * DAY + 1, 30 * DAY)
    done = run_cli("logs", "prune", "--older-than", "1970-01-11", "--home", folder, "--json")
    assert done.code == 0, done.err
    assert done.json()["removed_rows"] == 2
    assert logstore.read(db.location)["ts"].tolist() == [20 * DAY + 1, 30 * DAY]
    again = run_cli("logs", "prune", "--older-than", "1970-01-11", "--home", folder, "--json")
    assert again.json()["removed_rows"] == 0


def test_postgres_drops_whole_day_partitions(database: DatabaseUrl) -> None:
    """Each day has its partition; a prune drops the days wholly before the cutoff and keeps
    a day partly after it."""
    db = LogBackend("postgres", database)
    _log(db, 5 * DAY + 1, 6 * DAY + 1, 6 * DAY + 500)
    with psycopg.connect(database.value) as conn:
        parts = conn.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'inference_log'::regclass"
        ).fetchone()
    assert parts == (2,)
    assert logstore.prune(database, 6 * DAY + 100) == 1  # day 5 dropped; day 6 kept whole
    assert logstore.read(database)["ts"].tolist() == [6 * DAY + 1, 6 * DAY + 500]


def test_a_bad_cutoff_is_one_line(run_cli: RunCli, tmp_path: Path) -> None:
    bad = run_cli("logs", "prune", "--older-than", "soon", "--home", tmp_path)
    assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1 and "--older-than" in bad.err
