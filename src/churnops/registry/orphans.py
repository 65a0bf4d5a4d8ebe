"""Leftovers of interrupted trainings: temporary files, and artifacts of unregistered versions.

A training writes its files under the registry lock and then commits metadata.json; one killed
in between leaves files that no registered version names (23 MB per version). The next
training removes them, but only once they have been left untouched for an hour, so nothing a
live writer could still be finishing is ever touched. Registered versions' files are never
removed.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from churnops.registry.entries import RegistryFile
from churnops.registry.store import ARTIFACT_RE, Registry

MIN_AGE_S = 3_600.0
VERSION_DIR_RE = re.compile(r"v[1-9][0-9]*")


def orphans(registry: Registry, state: RegistryFile) -> list[Path]:
    """Temporary files, artifacts in models/ that no version names, and version folders of
    versions that metadata.json does not list."""
    named = {name for entry in state.versions for name in (entry.file, entry.onnx_file)}
    registered = {f"v{entry.version}" for entry in state.versions}
    versions_root = registry.dir / "versions"
    folders = _entries(versions_root)
    found = [p for p in folders if VERSION_DIR_RE.fullmatch(p.name) and p.name not in registered]
    kept = [p for p in folders if p.name in registered and p.is_dir()]
    for folder in (registry.dir, registry.models_dir, *kept):
        found += [p for p in _entries(folder) if p.name.startswith(".") and p.suffix == ".tmp"]
    found += [
        p
        for p in _entries(registry.models_dir)
        if ARTIFACT_RE.fullmatch(p.name) and p.name not in named
    ]
    return sorted(found)


def remove_orphans(
    registry: Registry, state: RegistryFile, now: float, min_age: float = MIN_AGE_S
) -> list[Path]:
    """Remove the orphans untouched for ``min_age`` seconds; call under the registry lock.
    Returns what was removed."""
    removed = []
    for path in orphans(registry, state):
        if now - _last_change(path) >= min_age:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _entries(folder: Path) -> list[Path]:
    return list(folder.iterdir()) if folder.is_dir() else []


def _last_change(path: Path) -> float:
    """The newest modification time of ``path`` and, for a folder, of everything in it (links
    are not followed)."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
    return newest
