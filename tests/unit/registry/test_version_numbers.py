"""Version numbers: handed out by the registry alone, bounded, and never given twice."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from churnops.errors import BadInputError, CheckFailedError
from churnops.registry.entries import MAX_VERSION
from churnops.registry.lifecycle import Registered
from churnops.registry.store import Registry
from churnops.settings import Settings

AddVersion = Callable[..., Registered]
Snapshot = Callable[[], dict[str, bytes | None]]


def _edit_metadata(registry: Registry, edit: Callable[[dict[str, object]], None]) -> None:
    raw = json.loads(registry.metadata_path.read_text("utf-8"))
    edit(raw)
    registry.metadata_path.write_text(json.dumps(raw), encoding="utf-8")


def test_numbers_come_from_the_registry_not_from_file_names(
    add_version: AddVersion, trained_settings: Settings, registry: Registry
) -> None:
    """A file in models/ named like version 2^63 - 1, or a stray version folder, does not move
    the numbering (it made the next version 2^63, which SQLite cannot store); rejected
    versions keep their number."""
    models = trained_settings.models_dir
    (models / "churn_model_v9223372036854775807_20240101_000000.onnx").write_bytes(b"stray")
    registry.version_dir(11).mkdir(parents=True)
    assert add_version(min_auc=0.99).entry.version == 2
    assert add_version().entry.version == 3
    state = registry.read()
    assert [v.version for v in state.versions] == [1, 2, 3]
    assert state.last_version == 3


def test_a_failed_registration_does_not_give_its_number_again(
    add_version: AddVersion, trained_settings: Settings, registry: Registry
) -> None:
    """A registration that failed after writing v2's artifacts (here: a file where v2's folder
    belongs) leaves v2 unregistered, and the next version is v3, so two different models are
    never both called v2."""
    registry.version_dir(2).parent.mkdir(parents=True, exist_ok=True)
    registry.version_dir(2).write_bytes(b"in the way")
    with pytest.raises(FileExistsError):
        add_version()
    leftovers = sorted(p.name for p in trained_settings.models_dir.glob("churn_model_v2_*"))
    assert [name.rsplit(".", 1)[1] for name in leftovers] == ["joblib", "onnx"]
    assert add_version().entry.version == 3
    state = registry.read()
    assert ([v.version for v in state.versions], state.last_version) == ([1, 3], 3)


@pytest.mark.parametrize("number", [MAX_VERSION + 1, 2**63])
def test_numbers_beyond_the_maximum_are_refused_on_read(registry: Registry, number: int) -> None:
    """metadata.json naming a version above MAX_VERSION is refused as an invalid edit."""

    def edit(raw: dict[str, object]) -> None:
        raw["versions"][0]["version"] = number  # type: ignore[index]

    _edit_metadata(registry, edit)
    with pytest.raises(BadInputError, match=f"versions.0.version.*{MAX_VERSION}"):
        registry.read()


def test_no_number_is_handed_out_beyond_the_maximum(
    add_version: AddVersion, registry: Registry, trained_settings: Settings, snapshot: Snapshot
) -> None:
    """When every number up to MAX_VERSION is used, train is refused with a clear message and
    nothing is written."""
    _edit_metadata(registry, lambda raw: raw.update(last_version=MAX_VERSION))
    before = snapshot()
    models_before = sorted(trained_settings.models_dir.iterdir())
    with pytest.raises(CheckFailedError, match=f"up to v{MAX_VERSION} has been used"):
        add_version()
    assert snapshot() == before
    assert sorted(trained_settings.models_dir.iterdir()) == models_before


def test_a_format_1_registry_keeps_loading(add_version: AddVersion, registry: Registry) -> None:
    """metadata.json as format 1 wrote it (no last_version) reads with its highest version as
    the high-water mark; the next commit writes format 2."""

    def as_format_1(raw: dict[str, object]) -> None:
        raw["format"] = 1
        raw.pop("last_version")

    _edit_metadata(registry, as_format_1)
    state = registry.read()
    assert (state.format, state.last_version, state.current_version) == (1, 1, 1)
    assert add_version().entry.version == 2
    raw = json.loads(registry.metadata_path.read_text("utf-8"))
    assert (raw["format"], raw["last_version"]) == (2, 2)


def test_a_lowered_high_water_mark_is_raised_to_the_highest_version(
    add_version: AddVersion, registry: Registry
) -> None:
    """A hand-edited last_version below a registered version cannot make a number reused."""
    add_version()
    _edit_metadata(registry, lambda raw: raw.update(last_version=0))
    assert registry.read().last_version == 2
    assert add_version().entry.version == 3
