"""Leftovers of killed trainings are removed by the next training once an hour old, and listed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from churnops.registry.lifecycle import Registered
from churnops.registry.orphans import MIN_AGE_S
from churnops.registry.promotion import verify
from churnops.registry.store import Registry
from churnops.settings import Settings

AddVersion = Callable[..., Registered]


def _age(path: Path, seconds: float) -> None:
    """Set the modification time of ``path`` (and all in it) ``seconds`` into the past."""
    when = time.time() - seconds
    for item in [path, *(path.rglob("*") if path.is_dir() else [])]:
        os.utime(item, (when, when), follow_symlinks=False)


def _leftovers(settings: Settings, registry: Registry) -> dict[str, Path]:
    """What a training killed at various moments leaves behind (v5 and v6 never committed)."""
    models = settings.models_dir
    made = {
        "models/churn_model_v5_20240101_000000.joblib": models,
        "models/churn_model_v5_20240101_000000.onnx": models,
        "models/.churn_model_v6_20240101_000000.onnx.x1y2.tmp": models,
        "registry/.metadata.json.a1b2.tmp": registry.dir,
        "registry/versions/v1/.reference.parquet.c3d4.tmp": registry.version_dir(1),
    }
    paths = {}
    for name, folder in made.items():
        path = folder / Path(name).name
        path.write_bytes(b"half-written")
        paths[name] = path
    orphan_folder = registry.version_dir(5)
    orphan_folder.mkdir(parents=True)
    (orphan_folder / "train_stats.json").write_text("{}", encoding="utf-8")
    paths["registry/versions/v5"] = orphan_folder
    return paths


def test_old_leftovers_are_removed_and_listed(
    add_version: AddVersion, trained_settings: Settings, registry: Registry
) -> None:
    """Temporary files, unregistered artifacts and version folders untouched for over an hour
    are removed by the next registration, which lists them relative to the home; the
    registered version's files stay and still verify."""
    leftovers = _leftovers(trained_settings, registry)
    for path in leftovers.values():
        _age(path, MIN_AGE_S + 60)
    v1 = registry.read().versions[0]
    for path in (registry.artifact_path(v1), registry.onnx_path(v1), registry.version_dir(1)):
        _age(path, 10 * MIN_AGE_S)  # old, but registered
    result = add_version()
    assert sorted(result.removed) == sorted(leftovers)
    assert not any(path.exists() for path in leftovers.values())
    verify(registry, registry.read().versions[0])
    assert sorted(p.name for p in registry.version_dir(1).iterdir()) == [
        "holdout.parquet",
        "reference.parquet",
        "train_stats.json",
        "trained_on.parquet",
    ]


def test_recent_leftovers_are_kept(
    add_version: AddVersion, trained_settings: Settings, registry: Registry
) -> None:
    """Leftovers younger than an hour (a folder counts from its newest file) are left alone."""
    leftovers = _leftovers(trained_settings, registry)
    for path in leftovers.values():
        _age(path, MIN_AGE_S + 60)
    os.utime(leftovers["registry/versions/v5"] / "train_stats.json")  # touched just now
    fresh = trained_settings.models_dir / "churn_model_v6_20240101_000000.joblib"
    fresh.write_bytes(b"being written")
    removed = add_version().removed
    assert "registry/versions/v5" not in removed
    assert leftovers["registry/versions/v5"].is_dir() and fresh.exists()
    assert len(removed) == len(leftovers) - 1


def test_other_files_in_models_are_not_touched(
    add_version: AddVersion, trained_settings: Settings
) -> None:
    """Only names this registry writes count as leftovers: a user's own file stays."""
    notes = trained_settings.models_dir / "NOTES.txt"
    notes.write_text("mine", encoding="utf-8")
    _age(notes, 10 * MIN_AGE_S)
    assert add_version().removed == []
    assert notes.exists()


def test_a_link_left_in_models_is_removed_not_its_target(
    add_version: AddVersion, trained_settings: Settings, tmp_path: Path
) -> None:
    """An unregistered artifact that is a link: the link goes, what it points at stays."""
    target = tmp_path / "precious.onnx"
    target.write_bytes(b"keep me")
    link = trained_settings.models_dir / "churn_model_v9_20240101_000000.onnx"
    link.symlink_to(target)
    _age(link, 10 * MIN_AGE_S)
    assert add_version().removed == ["models/churn_model_v9_20240101_000000.onnx"]
    assert not link.is_symlink() and target.read_bytes() == b"keep me"
