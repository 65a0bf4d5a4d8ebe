"""Shared fixtures: a project home with a trained model, built once per test session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import postgres_support
import pytest
from cli_support import RunCli, cli_runner
from log_backends import BACKENDS, LogBackend
from schema_homes import SHAPES, SchemaHome, Template, build_project, copy_of

from churnops import workflow
from churnops.database.url import DatabaseUrl
from churnops.settings import Settings, load_settings


def make_settings(home: Path, **overrides: object) -> Settings:
    return load_settings(home=home, **overrides)


@pytest.fixture(scope="session")
def _trained_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generate → prepare → train run (4,000 rows, 60 trees), copied for each test."""
    home = tmp_path_factory.mktemp("trained-template")
    settings = make_settings(home, rows=4_000, n_estimators=60)
    workflow.generate_step(settings)
    workflow.prepare_step(settings)
    workflow.train_step(settings)
    return home


@pytest.fixture
def trained_home(_trained_template: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of a project home whose registry holds v1 as current."""
    home = tmp_path / "home"
    shutil.copytree(_trained_template, home)
    yield home


@pytest.fixture
def trained_settings(trained_home: Path) -> Settings:
    return make_settings(trained_home, rows=4_000, n_estimators=60)


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunCli:
    """Run ``churnops ARGS…`` in-process through the real entry point (``churnops.cli.main``,
    which maps errors to exit codes): exit code, stdout, stderr."""
    return cli_runner(monkeypatch, capsys)


@pytest.fixture(scope="session")
def _schema_templates(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """Each user table's trained project, built the first time a test asks for it."""
    built: dict[str, SchemaHome] = {}

    def template(shape: str) -> SchemaHome:
        if shape not in built:
            built[shape] = build_project(shape, tmp_path_factory.mktemp(f"{shape}-template"))
        return built[shape]

    return template


@pytest.fixture(params=SHAPES)
def schema_home(
    request: pytest.FixtureRequest, _schema_templates: Template, tmp_path: Path
) -> SchemaHome:
    """A private copy of a trained project home on each of the three user tables (telecom,
    bank, minimal): churnops.yaml drafted by init, the table prepared, v1 trained and current.
    A test taking it runs once per table."""
    return copy_of(_schema_templates(request.param), tmp_path / "home")


@pytest.fixture(scope="session")
def _experiment_template(_trained_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 (the shared 60-tree forest, archived) and v2, a one-stump forest forced current: a
    weak champion, and a clearly stronger challenger waiting."""
    from churnops.model.train import load_processed, train_model
    from churnops.registry.lifecycle import register

    home = tmp_path_factory.mktemp("experiment") / "home"
    shutil.copytree(_trained_template, home)
    stump = make_settings(home, n_estimators=1, max_depth=1, min_samples_leaf=1, max_features=1.0)
    weak = train_model(load_processed(stump.processed_csv), stump, tune=False)
    register(stump, weak, stump.processed_csv, force=True)
    return home


@pytest.fixture
def experiment_settings(_experiment_template: Path, tmp_path: Path) -> Settings:
    """A private copy of the weak-champion (v2) / strong-challenger (v1) home."""
    home = tmp_path / "home"
    shutil.copytree(_experiment_template, home)
    return make_settings(home, rows=4_000, n_estimators=60)


# ---- PostgreSQL ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[postgres_support.Cluster]:
    """A real PostgreSQL server (Debian's package) for the whole session, in a temporary folder."""
    if not postgres_support.available():
        pytest.skip(
            f"PostgreSQL is not installed ({postgres_support.PG_BIN}): apt-get install postgresql"
        )
    with postgres_support.running_cluster() as cluster:
        yield cluster


@pytest.fixture
def blank_database(postgres_cluster: postgres_support.Cluster) -> DatabaseUrl:
    """A new, empty database (no churnops tables yet)."""
    return DatabaseUrl(postgres_cluster.create_database())


@pytest.fixture
def database(blank_database: DatabaseUrl) -> DatabaseUrl:
    """A new database at this churnops's schema version (`churnops db upgrade` done)."""
    from churnops.database.migrations import upgrade

    upgrade(blank_database)
    return blank_database


@pytest.fixture(params=BACKENDS)
def log_backend(request: pytest.FixtureRequest, tmp_path: Path) -> LogBackend:
    """Where the inference log and the outcomes live: a test taking it runs on the SQLite file
    and on PostgreSQL."""
    if request.param == "sqlite":
        return LogBackend("sqlite", tmp_path / "logs" / "inference.sqlite")
    return LogBackend("postgres", request.getfixturevalue("database"))
