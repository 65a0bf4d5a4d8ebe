"""Registry fixtures: cheap extra versions on top of the shared trained home."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from churnops.database.url import DatabaseUrl
from churnops.model.train import Trained, load_processed, train_model
from churnops.registry.lifecycle import Registered, register
from churnops.registry.store import Registry
from churnops.settings import Settings, load_settings

AddVersion = Callable[..., Registered]


@pytest.fixture(scope="session")
def retrained(_trained_template: Path) -> Trained:
    """The shared v1 model trained again: the same data and seed give the same forest."""
    settings = load_settings(home=_trained_template, rows=4_000, n_estimators=60)
    return train_model(load_processed(settings.processed_csv), settings, tune=False)


@pytest.fixture(scope="session")
def weak(_trained_template: Path) -> Trained:
    """A one-stump forest: a clearly worse model than v1."""
    settings = load_settings(
        home=_trained_template, n_estimators=1, max_depth=1, min_samples_leaf=1, max_features=1.0
    )
    return train_model(load_processed(settings.processed_csv), settings, tune=False)


@pytest.fixture
def add_version(trained_settings: Settings, retrained: Trained) -> AddVersion:
    """Register another version (by default the same model as v1) through the real register()."""

    def add(model: Trained | None = None, force: bool = False, **overrides: Any) -> Registered:
        settings = trained_settings.model_copy(update=overrides)
        return register(settings, model or retrained, settings.processed_csv, force=force)

    return add


@pytest.fixture
def pg_settings(database: DatabaseUrl, _trained_template: Path, tmp_path: Path) -> Settings:
    """A home with the prepared data whose registry is in a new PostgreSQL database."""
    home = tmp_path / "trainer"
    (home / "data").mkdir(parents=True)
    shutil.copy(_trained_template / "data" / "processed.csv", home / "data" / "processed.csv")
    return load_settings(home=home, rows=4_000, n_estimators=60, database_url=database.value)


@pytest.fixture
def registry(trained_settings: Settings) -> Registry:
    return Registry(trained_settings)


Snapshot = Callable[[], dict[str, bytes | None]]


@pytest.fixture
def snapshot(registry: Registry) -> Snapshot:
    """The bytes of every registry file that a refused operation must leave alone."""

    def take() -> dict[str, bytes | None]:
        files = [
            registry.metadata_path,
            registry.pointer_path,
            registry.history_path,
            registry.stats_path,
        ]
        return {path.name: path.read_bytes() if path.exists() else None for path in files}

    return take
