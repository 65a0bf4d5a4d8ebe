"""Serving fixtures: a project with two registered versions, and the API on it in-process."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from churnops import workflow
from churnops.registry.promotion import switch
from churnops.schema import SEED_EXAMPLE
from churnops.serving.app import create_app
from churnops.settings import Settings, load_settings

SEED_BODY = dict(SEED_EXAMPLE)
ADMIN_TOKEN = "s3cret-admin-token"


def serving_settings(home: Path, **overrides: object) -> Settings:
    """Fast polling and flushing, an admin token; the trained home's model settings."""
    values: dict[str, object] = {
        "rows": 4_000,
        "n_estimators": 60,
        "poll_interval": 0.1,
        "log_flush_interval": 0.05,
        "admin_token": ADMIN_TOKEN,
        **overrides,
    }
    return load_settings(home=home, **values)


@pytest.fixture(scope="session")
def _two_versions_template(
    _trained_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """v1 (current) and v2 (another seed, so other probabilities) registered."""
    home = tmp_path_factory.mktemp("two-versions") / "home"
    shutil.copytree(_trained_template, home)
    workflow.train_step(load_settings(home=home, rows=4_000, n_estimators=60, seed=7), force=True)
    switch(load_settings(home=home), "rollback", 1, "fixture: v1 serves, v2 waits")
    return home


@pytest.fixture
def two_versions(_two_versions_template: Path, tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    shutil.copytree(_two_versions_template, home)
    return serving_settings(home)


@pytest.fixture
def settings(trained_home: Path) -> Settings:
    return serving_settings(trained_home)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The API on the trained home (v1), lifespan running."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client
