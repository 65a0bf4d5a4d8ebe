"""The PostgreSQL registry next to a file registry, with a damaged cache, a held lock, a server
restart, an import into a used sequence and a hand-deleted state row — on a real server."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import postgres_support
import psycopg
import pytest
from cli_support import RunCli
from serving_support import inputs_for

from churnops.database import migrations
from churnops.database.connection import url_database
from churnops.database.url import DatabaseUrl
from churnops.errors import BadInputError, CheckFailedError
from churnops.model.train import Trained
from churnops.registry.entries import MAX_VERSION
from churnops.registry.lifecycle import register
from churnops.registry.postgres import PostgresRegistry, cache_folder
from churnops.registry.promotion import verify
from churnops.registry.store import Registry, open_registry
from churnops.serving.predictor import Predictor
from churnops.settings import Settings, load_settings

HOUR_S = 3_600


def _age(home: Path, seconds: float) -> None:
    """Make every file under ``home`` look untouched for ``seconds`` (a home trained earlier)."""
    when = time.time() - seconds
    for path in home.rglob("*"):
        os.utime(path, (when, when), follow_symlinks=False)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _connect(url: DatabaseUrl) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url.value, autocommit=True)


# ---- 1: a home that also holds a file registry ------------------------------------------------
def test_training_into_the_database_leaves_the_home_s_file_registry_alone(
    trained_home: Path, database: DatabaseUrl, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database's cache has its own folder: no file of the file registry is removed or
    overwritten (they are older than the orphan age), and the output says the home also holds
    a file registry, which `db import` can bring in."""
    _age(trained_home, 2 * HOUR_S)
    models, registry_dir = _files(trained_home / "models"), _files(trained_home / "registry")
    monkeypatch.setenv("CHURNOPS_DATABASE_URL", database.value)
    monkeypatch.setenv("CHURNOPS_N_ESTIMATORS", "60")
    trained = run_cli("train", "--home", trained_home, "--json")
    assert trained.code == 0, trained.err
    answer = trained.json()
    assert answer["version"] == 1 and answer["removed"] == []
    assert "db import --from" in answer["note"]
    assert _files(trained_home / "models") == models
    assert _files(trained_home / "registry") == registry_dir
    files = Registry(load_settings(home=trained_home, database_url=""))
    entry = files.read().current
    assert entry is not None
    verify(files, entry)
    in_database = open_registry(load_settings(home=trained_home, database_url=database.value))
    db_entry = in_database.read().current
    assert db_entry is not None
    verify(in_database, db_entry)
    assert trained_home / ".cache" in in_database.onnx_path(db_entry).parents


def test_the_cache_of_a_database_is_its_own_per_database(
    database: DatabaseUrl, postgres_cluster: postgres_support.Cluster, tmp_path: Path
) -> None:
    other = DatabaseUrl(postgres_cluster.create_database())
    first = PostgresRegistry(load_settings(home=tmp_path, database_url=database.value), database)
    second = PostgresRegistry(load_settings(home=tmp_path, database_url=other.value), other)
    folders = {first.dir, first.models_dir, second.dir, second.models_dir}
    assert len(folders) == 4 and all(tmp_path / ".cache" in f.parents for f in folders)
    assert not {first.dir, first.models_dir} & {tmp_path / "registry", tmp_path / "models"}
    odd = DatabaseUrl("postgresql://ann:pw?se#cret@db.internal:5432/prod")  # as libpq reads it
    assert cache_folder(tmp_path, odd).name.startswith("prod-")
    assert "cret" not in str(cache_folder(tmp_path, odd))


# ---- 2: a damaged cache heals from the database ----------------------------------------------
def test_a_replica_s_damaged_cached_artifact_is_fetched_again(
    pg_settings: Settings, retrained: Trained, tmp_path: Path
) -> None:
    register(pg_settings, retrained, pg_settings.processed_csv)
    replica = open_registry(pg_settings.model_copy(update={"home": tmp_path / "replica"}))
    entry = replica.read().current
    assert entry is not None
    verify(replica, entry)
    onnx = replica.onnx_path(entry)
    good = onnx.read_bytes()
    with onnx.open("ab") as file:
        file.write(b"garbage")
    verify(replica, entry)  # dropped from the cache, fetched again, verified again
    assert onnx.read_bytes() == good


def test_a_damaged_file_registry_artifact_is_still_refused(trained_settings: Settings) -> None:
    registry = Registry(trained_settings)
    entry = registry.read().current
    assert entry is not None
    with registry.onnx_path(entry).open("ab") as file:
        file.write(b"garbage")
    with pytest.raises(CheckFailedError, match="does not match its registered SHA-256"):
        verify(registry, entry)


# ---- 3: a held lock gives up -----------------------------------------------------------------
def test_a_held_registry_lock_gives_up_after_the_timeout_naming_the_holder(
    pg_settings: Settings, database: DatabaseUrl
) -> None:
    registry = PostgresRegistry(pg_settings, database, lock_timeout=0.5)
    with _connect(database) as holder:
        # on code that waits forever, the holder's own timeout ends the wait (the test fails)
        holder.execute("SET idle_in_transaction_session_timeout = '10s'")
        holder.execute("BEGIN")
        holder.execute("SELECT 1 FROM registry_state FOR UPDATE")
        row = holder.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        with pytest.raises(BadInputError, match="locked") as refused, registry.transaction():
            pass
        holder.execute("ROLLBACK")
    message = str(refused.value)
    assert f"pid {row[0]}" in message and "\n" not in message
    with registry.transaction() as state:  # free again
        assert state.versions == []


# ---- 4: the API after a database restart -----------------------------------------------------
def test_the_api_is_ready_again_after_the_database_restarts(
    _trained_template: Path, retrained: Trained, tmp_path: Path
) -> None:
    """A restart (AdminShutdown on the open connection), then a stop (connection refused):
    each a one-line reload error and no exception; once the server is back, the error
    clears without the registry changing."""
    with postgres_support.running_cluster() as cluster:
        url = DatabaseUrl(cluster.create_database())
        migrations.upgrade(url)
        home = tmp_path / "trainer"
        shutil.copytree(_trained_template / "data", home / "data")
        settings = load_settings(home=home, database_url=url.value)
        register(settings, retrained, settings.processed_csv)
        replica = load_settings(home=tmp_path / "replica", database_url=url.value)
        predictor = Predictor(replica, inputs_for)
        assert predictor.refresh().version == 1
        with psycopg.connect(cluster.url(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (url_database(url),),
            )
        lost = predictor.refresh()
        assert lost.version == 1 and lost.error is not None and "\n" not in lost.error
        cluster.stop()
        try:
            down = predictor.refresh()
            assert down.error is not None and "cannot read the registry" in down.error
        finally:
            cluster.start()
        back = predictor.refresh()
        assert back.version == 1 and back.error is None
        assert predictor.last_reload_error is None


# ---- 5: import and the version sequence ------------------------------------------------------
def test_db_import_never_moves_the_version_sequence_back(
    trained_home: Path, database: DatabaseUrl, tmp_path: Path
) -> None:
    with _connect(database) as conn:
        for _ in range(3):
            conn.execute("SELECT nextval('registry_versions')")
    files = Registry(load_settings(home=trained_home, database_url=""))
    target = PostgresRegistry(load_settings(home=tmp_path, database_url=database.value), database)
    assert target.import_from(files).versions == 1
    with _connect(database) as conn:
        row = conn.execute("SELECT last_value FROM registry_versions").fetchone()
    assert row == (3,)
    with target.transaction() as state:
        assert target.reserve_version(state) == 4


def test_the_last_version_number_is_refused_from_the_sequence(
    pg_settings: Settings, database: DatabaseUrl
) -> None:
    with _connect(database) as conn:
        conn.execute("SELECT setval('registry_versions', %s)", (MAX_VERSION,))
    registry = open_registry(pg_settings)
    with (
        pytest.raises(CheckFailedError, match=f"up to v{MAX_VERSION} has been used"),
        registry.transaction() as state,
    ):
        registry.reserve_version(state)


# ---- 6: a hand-deleted state row -------------------------------------------------------------
def test_db_upgrade_recreates_a_deleted_empty_registry_row(
    pg_settings: Settings, database: DatabaseUrl
) -> None:
    with _connect(database) as conn:
        conn.execute("DELETE FROM registry_state")
    registry = open_registry(pg_settings)
    with pytest.raises(BadInputError, match="churnops db upgrade"):
        registry.read()
    migrations.upgrade(database)
    assert registry.read().versions == []


def test_a_deleted_registry_row_with_a_history_says_to_restore_a_backup(
    pg_settings: Settings, database: DatabaseUrl, retrained: Trained
) -> None:
    register(pg_settings, retrained, pg_settings.processed_csv)
    with _connect(database) as conn:
        conn.execute("DELETE FROM registry_state")
    migrations.upgrade(database)  # must not pretend the registry is empty
    with pytest.raises(BadInputError, match="restore the database from a backup") as refused:
        open_registry(pg_settings).read()
    assert "db upgrade" not in str(refused.value)


# ---- 7: messages name the store in use -------------------------------------------------------
def test_promote_in_the_database_names_no_pointer_file(
    pg_settings: Settings, retrained: Trained, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(pg_settings, retrained, pg_settings.processed_csv)
    register(pg_settings, retrained, pg_settings.processed_csv)
    assert pg_settings.database is not None
    monkeypatch.setenv("CHURNOPS_DATABASE_URL", pg_settings.database.value)
    done = run_cli("rollback", "--home", pg_settings.home)
    assert done.code == 0, done.err
    assert "current_model.txt" not in done.out and "v1" in done.out


def test_the_api_warning_names_the_database_not_a_file(
    pg_settings: Settings, retrained: Trained, database: DatabaseUrl, tmp_path: Path
) -> None:
    register(pg_settings, retrained, pg_settings.processed_csv)
    predictor = Predictor(pg_settings.model_copy(update={"home": tmp_path / "replica"}), inputs_for)
    assert predictor.refresh().version == 1
    with _connect(database) as conn:
        conn.execute(
            "UPDATE registry_state SET current_version = NULL, changed_at = clock_timestamp(), "
            "document = document || '{\"current_version\": null}'"
        )
    predictor.refresh()
    warning = predictor.pointer_warning
    assert warning is not None and "metadata.json" not in warning
    assert str(database) in warning
