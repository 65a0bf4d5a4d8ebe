"""The registry's behaviour on both stores — the files under home and PostgreSQL — with the same
test functions; then what only the database adds (replicas with empty homes, an append-only
history table, artifacts checked against their SHA-256)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from churnops.errors import BadInputError, CheckFailedError
from churnops.model.onnx_model import OnnxModel
from churnops.model.train import Trained
from churnops.registry.experiments import start_experiment, stop_experiment
from churnops.registry.lifecycle import register
from churnops.registry.promotion import switch, verify
from churnops.registry.store import open_registry
from churnops.settings import Settings, load_settings

STORES = ("files", "postgres")


@pytest.fixture(params=STORES)
def store_settings(
    request: pytest.FixtureRequest, _trained_template: Path, tmp_path: Path
) -> Settings:
    """A home with the prepared data and no registry yet; for ``postgres`` the registry is
    in a new database (CHURNOPS_DATABASE_URL)."""
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    shutil.copy(_trained_template / "data" / "processed.csv", home / "data" / "processed.csv")
    url = request.getfixturevalue("database").value if request.param == "postgres" else None
    return load_settings(home=home, rows=4_000, n_estimators=60, database_url=url)


def _add(settings: Settings, model: Trained) -> int:
    return register(settings, model, settings.processed_csv).entry.version


def test_register_promote_rollback_and_history(
    store_settings: Settings, retrained: Trained
) -> None:
    assert (_add(store_settings, retrained), _add(store_settings, retrained)) == (1, 2)
    switch(store_settings, "rollback", None, "v2 misbehaves")
    registry = open_registry(store_settings)
    assert registry.read().current_version == 1
    switch(store_settings, "promote", 2, "fixed")
    state = registry.read()
    assert state.current_version == 2 and registry.pointer() == state.versions[1].file
    assert [v.status for v in state.versions] == ["archived", "current"]
    events = registry.history()
    assert [e.action for e in events] == ["register", "register", "rollback", "promote"]
    assert [e.seq for e in events] == [1, 2, 3, 4] and state.last_event == events[-1]


def test_a_refused_change_stores_nothing(store_settings: Settings, retrained: Trained) -> None:
    _add(store_settings, retrained)
    registry = open_registry(store_settings)
    before = (registry.read(), registry.history())
    with pytest.raises(CheckFailedError, match="already the current version"):
        switch(store_settings, "promote", 1, "again")
    assert (registry.read(), registry.history()) == before


def test_a_failed_registration_never_reuses_its_number(
    store_settings: Settings, retrained: Trained
) -> None:
    registry = open_registry(store_settings)
    with pytest.raises(RuntimeError), registry.transaction(create=True) as state:
        assert registry.reserve_version(state) == 1
        raise RuntimeError("the training died")
    assert _add(store_settings, retrained) == 2


def test_a_change_refused_before_any_registration_creates_nothing(
    store_settings: Settings,
) -> None:
    """Promote, rollback, and an experiment's start or stop in a home that never registered a
    version are refused, and leave the home as it was: no registry folder (nor, for the
    database, its local cache) appears."""
    home = store_settings.home
    before = sorted(home.rglob("*"))
    with pytest.raises(BadInputError, match="the registry is empty"):
        switch(store_settings, "promote", 1, "try v1")
    with pytest.raises(BadInputError, match="the registry is empty"):
        switch(store_settings, "rollback", None, "back")
    with pytest.raises(BadInputError, match="no champion"):
        start_experiment(store_settings, 1, "ab", 20, "try v1")
    with pytest.raises(CheckFailedError, match="no experiment is running"):
        stop_experiment(store_settings, promote=False, verdict="none")
    assert sorted(home.rglob("*")) == before


def test_an_experiment_starts_and_stops(store_settings: Settings, retrained: Trained) -> None:
    _add(store_settings, retrained)
    _add(store_settings, retrained)
    switch(store_settings, "rollback", None, "v1 serves, v2 waits")
    experiment = start_experiment(store_settings, 2, "ab", 20, "try v2")
    registry = open_registry(store_settings)
    assert registry.read().experiment == experiment
    with pytest.raises(CheckFailedError, match="experiment exp4 is running"):
        switch(store_settings, "promote", 2, "not now")
    stop_experiment(store_settings, promote=True, verdict="v2 wins")
    state = registry.read()
    assert state.experiment is None and state.current_version == 2
    actions = [e.action for e in registry.history()][3:]
    assert actions == ["experiment_start", "experiment_stop", "promote"]


# ---- PostgreSQL only -------------------------------------------------------------------------
def _connect(settings: Settings) -> psycopg.Connection[tuple[object, ...]]:
    assert settings.database is not None
    return psycopg.connect(settings.database.value, autocommit=True)


def test_a_replica_with_an_empty_home_loads_the_current_version(
    pg_settings: Settings, retrained: Trained, tmp_path: Path
) -> None:
    """The artifacts live in the database: another home gets them, checked, on first use."""
    _add(pg_settings, retrained)
    replica = open_registry(pg_settings.model_copy(update={"home": tmp_path / "replica"}))
    entry = replica.read().current
    assert entry is not None and not replica.models_dir.exists()
    model = verify(replica, entry)
    assert isinstance(model, OnnxModel)
    assert (replica.version_dir(1) / "reference.parquet").exists()
    assert (
        replica.onnx_path(entry).read_bytes()
        == open_registry(pg_settings).onnx_path(entry).read_bytes()
    )


def test_an_altered_artifact_in_the_database_is_refused(
    pg_settings: Settings, retrained: Trained, tmp_path: Path
) -> None:
    _add(pg_settings, retrained)
    with _connect(pg_settings) as conn:
        conn.execute(
            "UPDATE registry_artifacts SET content = content || '\\x00'::bytea "
            "WHERE name LIKE '%%.onnx'"
        )
    replica = open_registry(pg_settings.model_copy(update={"home": tmp_path / "replica"}))
    entry = replica.read().current
    assert entry is not None
    with pytest.raises(CheckFailedError, match="does not match its registered SHA-256"):
        verify(replica, entry)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE registry_history SET event = '{}'",
        "DELETE FROM registry_history",
        "TRUNCATE registry_history",
    ],
)
def test_the_history_is_append_only(
    pg_settings: Settings, retrained: Trained, statement: str
) -> None:
    _add(pg_settings, retrained)
    with (
        _connect(pg_settings) as conn,
        pytest.raises(psycopg.errors.RaiseException, match="append-only"),
    ):
        conn.execute(statement.encode())
    assert len(open_registry(pg_settings).history()) == 1


def test_two_trainings_at_once_get_distinct_versions(
    pg_settings: Settings, retrained: Trained, tmp_path: Path
) -> None:
    """Two trainers with their own homes and one database: distinct numbers, both recorded."""
    homes = [pg_settings.model_copy(update={"home": tmp_path / f"m{i}"}) for i in range(2)]
    for settings in homes:
        shutil.copytree(pg_settings.home / "data", settings.home / "data")
    versions: list[int] = []
    errors: list[BaseException] = []

    def train(settings: Settings) -> None:
        try:
            versions.append(_add(settings, retrained))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=train, args=(s,)) for s in homes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors and sorted(versions) == [1, 2]
    history = open_registry(pg_settings).history()
    assert sorted(e.to_version for e in history if e.action == "register") == [1, 2]
