"""Artifact files are confined to models/: metadata.json names bare files, links may not leave."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from churnops.atomic import sha256_file
from churnops.errors import BadInputError, CheckFailedError
from churnops.registry.entries import ModelVersion
from churnops.registry.promotion import verify
from churnops.registry.store import Registry

OUTSIDE = [
    "../../../../etc/passwd",
    "/etc/passwd",
    "..",
    ".",
    "",
    "sub/churn_model_v1_20240101_000000.joblib",
    "..\\churn_model_v1_20240101_000000.joblib",
    "churn_model_v1\0.joblib",
]


@pytest.mark.parametrize("field", ["file", "onnx_file"])
@pytest.mark.parametrize("name", OUTSIDE)
def test_a_path_outside_models_is_refused_on_read(
    registry: Registry, field: str, name: str
) -> None:
    """A hand-edited file name that is a path (absolute, .., separators) fails reading
    metadata.json with a one-line message naming the field."""
    raw = json.loads(registry.metadata_path.read_text("utf-8"))
    raw["versions"][0][field] = name
    registry.metadata_path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(BadInputError, match=f"versions.0.{field}.*inside models/") as caught:
        registry.read()
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", OUTSIDE)
def test_a_path_outside_models_cannot_be_written(registry: Registry, name: str) -> None:
    """No version naming a path outside models/ can be built, so none can be committed."""
    entry = registry.read().versions[0].model_dump()
    with pytest.raises(ValidationError, match="inside models/"):
        ModelVersion.model_validate({**entry, "file": name})


def test_a_symlink_leading_outside_models_is_refused(registry: Registry, tmp_path: Path) -> None:
    """An artifact replaced by a link to a file outside models/ is refused even though the
    content (and so the SHA-256) is the registered one."""
    entry = registry.read().versions[0]
    inside = registry.models_dir / entry.onnx_file
    outside = tmp_path / "elsewhere.onnx"
    shutil.move(inside, outside)
    inside.symlink_to(outside)
    assert sha256_file(inside) == entry.onnx_sha256
    with pytest.raises(CheckFailedError, match="leads outside models/"):
        verify(registry, entry)


def test_a_symlink_within_models_is_accepted(registry: Registry) -> None:
    """A link to a file that stays inside models/ is still a file in models/."""
    entry = registry.read().versions[0]
    inside = registry.models_dir / entry.onnx_file
    target = registry.models_dir / "kept" / "model.onnx"
    target.parent.mkdir()
    shutil.move(inside, target)
    inside.symlink_to(Path("kept") / "model.onnx")
    verify(registry, entry)


def test_a_symlink_loop_is_refused(registry: Registry) -> None:
    """A link that points at itself is a refused version, not a crash."""
    entry = registry.read().versions[0]
    inside = registry.models_dir / entry.file
    inside.unlink()
    inside.symlink_to(inside.name)
    with pytest.raises(CheckFailedError, match=entry.name):
        verify(registry, entry)
