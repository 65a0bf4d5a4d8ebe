"""Fixtures for the deployment tests: the images, built once per session, and a home trained
inside the full image."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from container_support import (
    TRAIN_ENV,
    Images,
    built_images,
    owned_by_image_user,
    require_podman,
    run_job,
)


@pytest.fixture(scope="session")
def images() -> Iterator[Images]:
    require_podman()
    with built_images() as built:
        yield built


@pytest.fixture(scope="session")
def _container_trained_home(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """generate → prepare → train run by the full image (v1), then a second model trained
    with another seed (v2, current)."""
    home = owned_by_image_user(tmp_path_factory.mktemp("container-home") / "home")
    run_job(images.full, home, "pipeline", env=TRAIN_ENV)
    run_job(images.full, home, "train", "--force", env={**TRAIN_ENV, "CHURNOPS_SEED": "7"})
    return home


@pytest.fixture
def container_home(_container_trained_home: Path, tmp_path: Path) -> Path:
    """A private copy of that home, writable by the image's user."""
    return owned_by_image_user(shutil.copytree(_container_trained_home, tmp_path / "home"))
