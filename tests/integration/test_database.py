"""The PostgreSQL store's schema and connection errors, on a real server: `db upgrade`, and
one line (exit 2, the URL without its password) for every way the database can be wrong."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from cli_support import RunCli
from fastapi.testclient import TestClient
from postgres_support import PASSWORD, Cluster

from churnops.database import migrations
from churnops.database.url import DatabaseUrl, redact, scrub
from churnops.serving.app import create_app
from churnops.settings import load_settings


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ann:s3cret@db:5432/prod", "postgresql://ann@db:5432/prod"),
        (
            "postgresql://db/prod?password=s3cret&sslmode=require",
            "postgresql://db/prod?sslmode=require",
        ),
        ("postgres://db/prod?password=s3cret", "postgres://db/prod"),
        # libpq takes # and ? unencoded in a password: urllib would end the host there
        ("postgresql://ann:s3#cret@db/prod", "postgresql://ann@db/prod"),
        ("postgresql://ann:s3?cret@db/prod", "postgresql://ann@db/prod"),
        (
            "postgresql://ann:s3%23cret@h1:5432,h2:5433/prod",
            "postgresql://ann@h1:5432,h2:5433/prod",
        ),
        (
            "postgresql://ann@db/prod?x=s3cret",
            "postgresql://ann@db/prod?x=s3cret",
        ),  # not a password
    ],
)
def test_redact_hides_the_password_wherever_it_is(url: str, shown: str) -> None:
    assert redact(url) == shown
    if "password" in url or ":s3" in url:
        assert "s3" not in repr(DatabaseUrl(url)) and "s3" not in str(DatabaseUrl(url))


def test_a_driver_message_quoting_the_password_is_masked() -> None:
    url = "postgresql://ann:Hunter2%ZZ@db/prod?password=other"
    text = scrub('invalid percent-encoded token: "Hunter2%ZZ", password other', url)
    assert "Hunter2" not in text and "other" not in text


def test_upgrade_creates_the_schema_once(
    blank_database: DatabaseUrl, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHURNOPS_DATABASE_URL", blank_database.value)
    status = run_cli("db", "status", "--json")
    assert status.code == 1 and status.json()["version"] == 0
    first = run_cli("db", "upgrade", "--json")
    assert first.code == 0, first.err
    assert (first.json()["before"], first.json()["after"]) == (0, migrations.latest())
    again = run_cli("db", "upgrade", "--json")
    assert (again.json()["before"], again.json()["after"]) == (migrations.latest(),) * 2
    assert run_cli("db", "status").code == 0
    with psycopg.connect(blank_database.value) as conn:
        versions = conn.execute("SELECT version FROM churnops_schema ORDER BY 1").fetchall()
    assert [v for (v,) in versions] == list(range(1, migrations.latest() + 1))


def _one_line_error(run_cli: RunCli, *args: str | Path) -> str:
    result = run_cli(*args)
    assert result.code == 2, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    assert PASSWORD not in result.err and "s3cret" not in result.err
    return lines[0]


@pytest.mark.parametrize("args", [("db", "upgrade"), ("logs", "stats")])
def test_each_wrong_database_is_one_clear_line(
    postgres_cluster: Cluster,
    blank_database: DatabaseUrl,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: tuple[str, ...],
) -> None:
    """Unreachable server, wrong password, missing database, invalid URL, SSL refused: exit 2,
    one line, the URL shown without its password, and what to do (asking whether PostgreSQL
    runs there only when it could not be reached)."""
    monkeypatch.chdir(tmp_path)
    cases = {
        f"postgresql://postgres:s3cret@127.0.0.1:{_closed_port()}/x": "cannot reach the server",
        postgres_cluster.url(password="s3cret"): "refused the user or password",
        postgres_cluster.url("no_such_db"): "'no_such_db' does not exist",
        # the driver's own message about these quotes the password: masked
        postgres_cluster.url(password="s3cret%ZZ"): "the URL is invalid",
        postgres_cluster.url() + "?nonsense=1": "the URL is invalid",
        postgres_cluster.url(password="s3#cret") + "x": "refused the user or password",
        # values libpq refuses before connecting: the URL is wrong, not the server away
        "postgresql://postgres:s3cret@127.0.0.1:99999/x": 'invalid (invalid port number: "99999")',
        postgres_cluster.url() + "?sslmode=bogus": 'invalid (invalid sslmode value: "bogus")',
        # the server answered without SSL: it runs (this one asked whether it did)
        postgres_cluster.url() + "?sslmode=require": "the SSL negotiation failed (server does",
    }
    for url, expected in cases.items():
        monkeypatch.setenv("CHURNOPS_DATABASE_URL", url)
        line = _one_line_error(run_cli, *args)
        assert expected in line and redact(url) in line, line
        assert "s3cret" not in line and "s3#cret" not in line
        assert ("is PostgreSQL running" in line) == ("cannot reach" in expected), line


def test_a_refusal_by_the_database_is_one_line(
    postgres_cluster: Cluster,
    blank_database: DatabaseUrl,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A role without the right to create tables, or to connect to the database at all: one
    line (exit 2) naming the database (without the password) and the refusal, not the
    driver's traceback nor a question whether PostgreSQL runs there."""
    name = blank_database.value.rsplit("/", 1)[1]
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
        conn.execute("CREATE ROLE reader LOGIN PASSWORD 's3cret'")
        conn.execute("CREATE ROLE outsider LOGIN PASSWORD 's3cret'")
        conn.execute(f'REVOKE CONNECT ON DATABASE "{name}" FROM PUBLIC')
        conn.execute(f'GRANT CONNECT ON DATABASE "{name}" TO reader')
    try:
        url = blank_database.value.replace(f"postgres:{PASSWORD}@", "reader:s3cret@")
        monkeypatch.setenv("CHURNOPS_DATABASE_URL", url)
        line = _one_line_error(run_cli, "db", "upgrade")
        assert "permission denied" in line and "SQLSTATE 42501" in line, line
        assert f"the database {redact(url)} refused this" in line, line
        url = blank_database.value.replace(f"postgres:{PASSWORD}@", "outsider:s3cret@")
        monkeypatch.setenv("CHURNOPS_DATABASE_URL", url)
        line = _one_line_error(run_cli, "db", "upgrade")
        assert redact(url) in line and f"may not connect to the database '{name}'" in line, line
        assert "is PostgreSQL running" not in line, line
    finally:
        with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
            conn.execute(f'REVOKE ALL ON DATABASE "{name}" FROM reader')
            conn.execute("DROP ROLE reader")
            conn.execute("DROP ROLE outsider")


def _wait_refused(url: str) -> None:
    """Until the server refuses ``url`` by its pg_hba.conf (a reload takes effect shortly)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            psycopg.connect(url).close()
        except psycopg.OperationalError as exc:
            if "pg_hba.conf" in str(exc):
                return
        assert time.monotonic() < deadline, "pg_hba.conf was not reloaded"
        time.sleep(0.05)


def test_a_server_that_answers_and_refuses_is_not_asked_whether_it_runs(
    postgres_cluster: Cluster,
    blank_database: DatabaseUrl,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A user pg_hba.conf rejects, a role that may not log in, a database closed to
    connections: the CLI's one line (exit 2) and the API's reason for not being ready say what
    the server answered and what to do, not whether PostgreSQL runs there."""
    monkeypatch.chdir(tmp_path)
    name = blank_database.value.rsplit("/", 1)[1]
    hba = postgres_cluster.data / "pg_hba.conf"
    original = hba.read_text()
    as_user = {
        user: blank_database.value.replace(f"postgres:{PASSWORD}@", f"{user}:s3cret@")
        for user in ("rejected", "nologin")
    }
    hba.write_text("host all rejected 127.0.0.1/32 reject\n" + original)
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
        conn.execute("CREATE ROLE rejected LOGIN PASSWORD 's3cret'")
        conn.execute("CREATE ROLE nologin NOLOGIN PASSWORD 's3cret'")
        conn.execute("SELECT pg_reload_conf()")
    try:
        _wait_refused(as_user["rejected"])
        cases = {
            as_user["rejected"]: (
                "the server does not allow this host, user and database",
                'pg_hba.conf rejects connection for host "127.0.0.1", user "rejected"',
                "add an entry for them to its pg_hba.conf, or use another user or database",
            ),
            as_user["nologin"]: ("the server refused the connection", "not permitted to log in"),
        }
        for url, expected in cases.items():
            monkeypatch.setenv("CHURNOPS_DATABASE_URL", url)
            for args in (("db", "upgrade"), ("logs", "stats")):
                line = _one_line_error(run_cli, *args)
                assert all(words in line for words in expected) and redact(url) in line, line
                assert "is PostgreSQL running" not in line and "cannot reach" not in line, line
            settings = load_settings(home=tmp_path / "api", database_url=url)
            with TestClient(create_app(settings)) as client:
                assert client.get("/health/ready").status_code == 503
                for said in (
                    client.get("/model-info").json()["last_reload_error"],
                    client.post("/predict", json={}).json()["detail"],
                ):
                    assert all(words in said for words in expected), said
                    assert "is PostgreSQL running" not in said, said
        with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        monkeypatch.setenv("CHURNOPS_DATABASE_URL", blank_database.value)
        line = _one_line_error(run_cli, "db", "upgrade")
        assert "refused the connection" in line and "not currently accepting" in line, line
        assert "is PostgreSQL running" not in line, line
    finally:
        hba.write_text(original)
        with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            conn.execute("DROP ROLE rejected")
            conn.execute("DROP ROLE nologin")


def test_an_old_or_a_newer_schema_is_refused(
    blank_database: DatabaseUrl, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A database churnops never upgraded needs `db upgrade`; one a newer churnops upgraded
    is refused by every command, `db upgrade` included."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHURNOPS_DATABASE_URL", blank_database.value)
    old = _one_line_error(run_cli, "logs", "stats")
    assert "schema version 0" in old and "churnops db upgrade" in old
    assert redact(blank_database.value) in old
    migrations.upgrade(blank_database)
    newer = migrations.latest() + 1
    with psycopg.connect(blank_database.value) as conn:
        conn.execute("INSERT INTO churnops_schema (version, name) VALUES (%s, 'x')", (newer,))
    for args in (("logs", "stats"), ("db", "upgrade")):
        line = _one_line_error(run_cli, *args)
        assert f"schema version {newer}" in line and "newer churnops" in line


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


def test_the_api_starts_not_ready_and_says_why(
    postgres_cluster: Cluster, blank_database: DatabaseUrl, tmp_path: Path
) -> None:
    """An unreachable database or one at an old schema: the API still starts, answers 503 on
    /health/ready and /predict, and names the database (without its password) and the fix."""
    from fastapi.testclient import TestClient

    from churnops.serving.app import create_app
    from churnops.settings import load_settings

    cases = {
        f"postgresql://postgres:s3cret@127.0.0.1:{_closed_port()}/x": "cannot reach the server",
        f"postgresql://postgres:s3#c?ret@127.0.0.1:{_closed_port()}/x": "cannot reach the server",
        blank_database.value: "churnops db upgrade",
    }
    for url, expected in cases.items():
        settings = load_settings(home=tmp_path, database_url=url)
        with TestClient(create_app(settings)) as client:
            ready = client.get("/health/ready")
            assert ready.status_code == 503
            reason = client.get("/model-info").json()["last_reload_error"]
            assert expected in reason and redact(url) in reason and "s3" not in reason
            assert PASSWORD not in reason
            predict = client.post("/predict", json={})
            assert predict.status_code == 503  # the real reason, not advice to train
            detail = predict.json()["detail"]
            assert expected in detail and redact(url) in detail and "churnops train" not in detail
            assert PASSWORD not in detail and "s3" not in detail


def test_db_import_copies_a_file_registry_once(
    trained_home: Path,
    database: DatabaseUrl,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Versions, history and artifacts arrive verified; a replica with an empty home then
    loads v1 from the database, and the command line lists it for a home that does not exist
    (in database mode a missing home is no error: the folder holds only a cache); importing
    again changes nothing."""
    from churnops.registry.promotion import verify
    from churnops.registry.store import Registry, open_registry
    from churnops.settings import load_settings

    monkeypatch.setenv("CHURNOPS_DATABASE_URL", database.value)
    first = run_cli("db", "import", "--from", trained_home, "--registry-only", "--json")
    assert first.code == 0, first.err
    assert first.json()["versions"] == 1 and first.json()["artifacts"] >= 5
    again = run_cli("db", "import", "--from", trained_home, "--registry-only", "--json")
    assert again.code == 0 and again.json()["already"] is True
    listed = run_cli("registry", "list", "--home", tmp_path / "missing", "--json")
    assert listed.code == 0, listed.err
    assert [row["version"] for row in listed.json()] == [1]
    replica = open_registry(load_settings(home=tmp_path / "replica"))
    files = Registry(load_settings(home=trained_home, database_url=""))
    assert replica.read() == files.read() and replica.history() == files.history()
    entry = replica.read().current
    assert entry is not None
    verify(replica, entry)
    assert replica.onnx_path(entry).read_bytes() == files.onnx_path(entry).read_bytes()


def test_db_import_refuses_a_database_with_other_versions(
    trained_home: Path, database: DatabaseUrl, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHURNOPS_DATABASE_URL", database.value)
    with psycopg.connect(database.value) as conn:
        conn.execute(
            "UPDATE registry_state SET document = "
            """'{"last_event": {"seq": 1, "time": "2026-01-01T00:00:00Z", "action": "register","""
            """ "from_version": null, "to_version": null, "reason": "x", "user": "u"}}'"""
        )
    refused = run_cli("db", "import", "--from", trained_home, "--registry-only")
    assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1
    assert "already holds versions" in refused.err and "nothing was changed" in refused.err


def test_a_url_that_is_not_postgresql_is_refused_without_showing_it() -> None:
    from churnops.errors import BadInputError
    from churnops.settings import load_settings

    with pytest.raises(BadInputError, match="postgresql://USER:PASSWORD@HOST") as refused:
        load_settings(database_url="mysql://ann:s3cret@db/prod")
    assert "s3cret" not in str(refused.value)
    assert load_settings(database_url="").database is None
