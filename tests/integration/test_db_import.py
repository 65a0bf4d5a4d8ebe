"""`churnops db import --from HOME` on a real PostgreSQL: a served home's registry, inference log
(experiment columns, the extra columns of another feature schema) and outcomes (with a
correction) arrive verified; the reports read the same from the database as from the home;
a second run copies nothing; a log that does not fit is one line, exit 2, nothing written."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from cli_support import RunCli, assert_one_line_error
from traffic_support import log_traffic

from churnops import logstore
from churnops.database import logtable
from churnops.database.home_import import IMPORT_LOCK
from churnops.database.url import DatabaseUrl
from churnops.schema import DEFAULT_SCHEMA, CategoricalFeature, FeatureSchema, NumericFeature
from churnops.settings import Settings

# a user's schema whose features the default log lacks ("order" is an SQL keyword)
OTHER = FeatureSchema(
    numeric=(NumericFeature(name="order", kind="int", min=0, max=10),),
    categorical=(CategoricalFeature(name="plan", categories=("basic", "pro")),),
)
TABLES = ("inference_log", "outcomes", "outcome_changes")
# what names where a report was read from, or when it was made: differs by design
WHERE_OR_WHEN = {"inference_log", "path", "generated_at", "report_path"}


def _served(settings: Settings, run_cli: RunCli, tmp_path: Path) -> Path:
    """The home after an A/B experiment's traffic (2,000 rows a minute ago), 300 rows of
    another schema three days before, the outcomes imported, then 20 of them corrected."""
    home = settings.home
    started = run_cli("experiment", "start", "--challenger", "v1", "--share", "50", "--home", home)
    assert started.code == 0, started.err
    outcomes = tmp_path / "outcomes.csv"
    log_traffic(settings, 2_000, seed=8, outcomes=outcomes)
    conn = logstore.connect(settings.inference_db, OTHER)
    names = logstore.prediction_columns(OTHER)
    start = time.time() - 3 * 86_400
    rows = [
        (start + i, uuid.uuid4().hex, f"U{i}", 2, i % 11, ("basic", "pro")[i % 2], 0.3, 0, 1.5)
        for i in range(300)
    ]
    logstore.insert(conn, rows, OTHER, names)
    conn.close()
    assert run_cli("labels", "import", outcomes, "--home", home).code == 0
    corrected = pd.read_csv(outcomes).head(20)
    corrected["outcome"] = 1 - corrected["outcome"]
    corrected.to_csv(tmp_path / "corrected.csv", index=False)
    fixed = run_cli("labels", "import", tmp_path / "corrected.csv", "--home", home, "--json")
    assert fixed.code == 0 and fixed.json()["changed"] == 20, fixed.out + fixed.err
    return home


def _reports(run_cli: RunCli, home: Path, since: str) -> dict[str, Any]:
    """What `logs stats`, `drift` (the default schema's rows: since ``since``, the newest 1,000),
    `performance` and `experiment report` say, as JSON, without where or when they were read."""
    found = {}
    for name, args in {
        "stats": ("logs", "stats"),
        "drift": ("drift", "--since", since),
        "drift of the newest rows": ("drift", "--last", "1000"),
        "performance": ("performance",),
        "experiment": ("experiment", "report"),
    }.items():
        result = run_cli(*args, "--home", home, "--json")
        assert result.code in (0, 1), (name, result.err)
        found[name] = _without(result.json(), WHERE_OR_WHEN)
    return found


def _without(value: Any, keys: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


def _counts(url: DatabaseUrl) -> dict[str, int]:
    with psycopg.connect(url.value) as conn:
        return {
            table: int(conn.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()[0])  # type: ignore[index]
            for table in TABLES
        }


def _file_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}


def test_a_served_home_reads_the_same_from_the_database_and_imports_once(
    experiment_settings: Settings,
    database: DatabaseUrl,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Every row arrives (the other schema's columns added to the database's log), the
    reports agree, and a second run copies nothing and changes no count."""
    home = _served(experiment_settings, run_cli, tmp_path)
    since = datetime.fromtimestamp(time.time() - 3_600, UTC).isoformat()
    on_files = _reports(run_cli, home, since)
    expected = _file_counts(experiment_settings.inference_db)
    assert expected == {"inference_log": 2_300, "outcomes": 2_000, "outcome_changes": 20}

    monkeypatch.setenv("CHURNOPS_DATABASE_URL", database.value)
    first = run_cli("db", "import", "--from", home, "--json")
    assert first.code == 0, first.err
    copied = {t["table"]: (t["rows"], t["copied"]) for t in first.json()["tables"]}
    assert copied == {table: (n, n) for table, n in expected.items()}
    assert _counts(database) == expected
    assert {"order", "plan", "variant", "experiment_id"} <= set(logstore.stored_columns(database))
    assert _reports(run_cli, home, since) == on_files

    again = run_cli("db", "import", "--from", home)
    assert again.code == 0, again.err
    assert "inference_log 0 of 2,300" in again.out and "outcome_changes 0 of 20" in again.out
    assert _counts(database) == expected


def test_a_log_that_grew_copies_only_its_new_rows(
    trained_settings: Settings,
    database: DatabaseUrl,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CHURNOPS_DATABASE_URL", database.value)
    log_traffic(trained_settings, 500, seed=1, outcomes=tmp_path / "first.csv")
    assert run_cli("db", "import", "--from", trained_settings.home).code == 0
    log_traffic(trained_settings, 200, seed=2, outcomes=tmp_path / "second.csv")
    grown = run_cli("db", "import", "--from", trained_settings.home, "--json")
    assert grown.code == 0, grown.err
    log = grown.json()["tables"][0]
    assert (log["table"], log["rows"], log["copied"]) == ("inference_log", 700, 200)
    assert _counts(database)["inference_log"] == 700


def test_different_rows_under_the_same_keys_fail_the_check_and_import_nothing(
    trained_settings: Settings,
    database: DatabaseUrl,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The database already holds one of the file's requests with another probability: the
    verification finds it (exit 1) and the transaction leaves the database as it was."""
    monkeypatch.setenv("CHURNOPS_DATABASE_URL", database.value)
    logged = log_traffic(trained_settings, 300, seed=1, outcomes=tmp_path / "outcomes.csv")
    first = logged.iloc[0]
    with psycopg.connect(database.value) as conn:
        logtable.ensure_partitions(conn, logtable.days_of([first["ts"]]))
        conn.execute(
            "INSERT INTO inference_log (ts, request_id, model_version, probability, decision, "
            "latency_ms) VALUES (%s, %s, 1, 0.123, 0, 1.0)",
            (first["ts"], first["request_id"]),
        )
    refused = run_cli("db", "import", "--from", trained_settings.home)
    assert_one_line_error(refused, 1, "inference_log", "nothing was imported")
    assert _counts(database)["inference_log"] == 1


def _bad_type(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE inference_log ADD COLUMN photo BLOB")


def _text_probability(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE inference_log SET probability = 'high' WHERE id = 3")


def _tenure_as_text(path: Path) -> None:
    """A log whose tenure column is TEXT, while the database's (the API's) is float8."""
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE inference_log")
    logstore.connect(path, None).close()
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE inference_log ADD COLUMN tenure TEXT")


@pytest.mark.parametrize(
    ("spoil", "words"),
    [
        (_bad_type, ("'photo'", "BLOB")),
        (_text_probability, ("'probability'", "1 value(s)")),
        (_tenure_as_text, ("'tenure'", "float8")),
    ],
)
def test_a_log_that_does_not_fit_is_one_line_and_nothing_is_written(
    trained_settings: Settings,
    database: DatabaseUrl,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    spoil: Any,
    words: tuple[str, ...],
) -> None:
    monkeypatch.setenv("CHURNOPS_DATABASE_URL", database.value)
    log_traffic(trained_settings, 50, seed=1, outcomes=tmp_path / "outcomes.csv")
    with psycopg.connect(database.value) as conn:
        logtable.ensure_columns(conn, DEFAULT_SCHEMA)
    spoil(trained_settings.inference_db)
    refused = run_cli("db", "import", "--from", trained_settings.home)
    assert_one_line_error(refused, 2, *words, "nothing was imported")
    assert _counts(database) == dict.fromkeys(TABLES, 0)
    with psycopg.connect(database.value) as conn:
        assert conn.execute("SELECT count(*) FROM registry_history").fetchone() == (0,)


def test_a_home_without_a_log_is_one_line_unless_only_the_registry_is_asked(
    trained_home: Path, database: DatabaseUrl, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHURNOPS_DATABASE_URL", database.value)
    refused = run_cli("db", "import", "--from", trained_home)
    assert_one_line_error(refused, 2, "no inference log", "--registry-only")
    assert run_cli("db", "import", "--from", trained_home, "--registry-only").code == 0


def _ctrl_c_as_in_a_terminal() -> None:
    """SIGINT back to its default in the child, so its Python stops on Ctrl-C as a terminal's
    does: a test run started in the background by a non-interactive shell (as a CI job may
    start it) ignores SIGINT, children inherit that, and the import would wait on."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _import_stopped_at(
    lock: str, home: Path, database: DatabaseUrl
) -> subprocess.CompletedProcess[str]:
    """`churnops db import --from HOME` in a new process, sent SIGINT (Ctrl-C) while it waits
    for a lock the test holds (taken by the SQL ``lock``, in a transaction kept open)."""
    command = [sys.executable, "-m", "churnops", "db", "import", "--from", str(home)]
    env = {**os.environ, "CHURNOPS_DATABASE_URL": database.value}
    waiting = (
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'churnops' "
        "AND wait_event_type = 'Lock'"
    )
    with (
        psycopg.connect(database.value) as holder,
        psycopg.connect(database.value, autocommit=True) as watcher,
    ):
        holder.execute(lock.encode())
        child = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_ctrl_c_as_in_a_terminal,
        )
        deadline = time.monotonic() + 120
        while watcher.execute(waiting.encode()).fetchone() == (0,):
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the import never waited for the lock"
            time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    return subprocess.CompletedProcess(command, child.returncode, out.decode(), err.decode())


def _assert_interrupted(done: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 130 with one line saying what was imported and what not, no traceback."""
    assert done.returncode == 130, (done.returncode, done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("interrupted: "), done.stderr
    for word in words:
        assert word in lines[0], done.stderr


def test_ctrl_c_while_the_log_is_copied_says_the_registry_was_imported_and_the_log_was_not(
    trained_settings: Settings, database: DatabaseUrl, run_cli: RunCli, tmp_path: Path
) -> None:
    """Interrupted after the registry's commit, in the log's transaction: one line saying
    so; the log has no row in the database, and running the import again finishes it."""
    log_traffic(trained_settings, 300, seed=1, outcomes=tmp_path / "outcomes.csv")
    home = trained_settings.home
    done = _import_stopped_at(f"SELECT pg_advisory_xact_lock({IMPORT_LOCK})", home, database)
    _assert_interrupted(
        done, "the registry was imported", "the inference log was not", "db import --from"
    )
    with psycopg.connect(database.value) as conn:
        assert conn.execute("SELECT count(*) FROM registry_history").fetchone() != (0,)
    assert _counts(database)["inference_log"] == 0
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CHURNOPS_DATABASE_URL", database.value)
        again = run_cli("db", "import", "--from", home)
    assert again.code == 0, again.err
    assert _counts(database)["inference_log"] == 300


def test_ctrl_c_while_the_registry_is_copied_says_nothing_was_imported(
    trained_settings: Settings, database: DatabaseUrl, tmp_path: Path
) -> None:
    log_traffic(trained_settings, 30, seed=1, outcomes=tmp_path / "outcomes.csv")
    lock = "SELECT 1 FROM registry_state WHERE id = 1 FOR UPDATE"
    done = _import_stopped_at(lock, trained_settings.home, database)
    _assert_interrupted(done, "nothing was imported", "db import --from")
    with psycopg.connect(database.value) as conn:
        assert conn.execute("SELECT count(*) FROM registry_history").fetchone() == (0,)
    assert _counts(database) == dict.fromkeys(TABLES, 0)
