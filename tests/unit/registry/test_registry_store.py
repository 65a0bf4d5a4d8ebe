"""The registry's storage: reading, refusing damaged files, committing, repairing after a crash."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from churnops.errors import BadInputError
from churnops.registry.lifecycle import Registered
from churnops.registry.store import Registry
from churnops.settings import Settings, load_settings

AddVersion = Callable[..., Registered]


def test_an_empty_home_has_an_empty_registry(tmp_path: Path) -> None:
    """Before any training the registry reads as empty, without creating anything."""
    registry = Registry(load_settings(home=tmp_path))
    state = registry.read()
    assert (state.versions, state.current_version, state.last_event) == ([], None, None)
    assert registry.history() == []
    assert registry.pointer() is None
    assert not registry.dir.exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: "\udcff", "not valid JSON"),
        (lambda text: text.replace('"version": 1', '"version": "first"', 1), "versions.0.version"),
        (lambda text: text.replace('"status": "current"', '"status": "live"', 1), "status"),
        (lambda text: "[]", "invalid state"),
    ],
    ids=["truncated", "not-utf8", "wrong-type", "unknown-status", "not-an-object"],
)
def test_damaged_metadata_is_refused_and_left_alone(
    registry: Registry,
    add_version: AddVersion,
    edit: Callable[[str], str],
    message: str,
) -> None:
    """A truncated, non-UTF-8 or hand-edited metadata.json is bad input with a one-line message
    naming the problem, and no later write replaces it."""
    path = registry.metadata_path
    damaged = edit(path.read_text("utf-8")).encode("utf-8", "surrogateescape")
    path.write_bytes(damaged)
    with pytest.raises(BadInputError, match=message) as caught:
        registry.read()
    assert "\n" not in str(caught.value)
    with pytest.raises(BadInputError):
        add_version()
    assert path.read_bytes() == damaged


def test_a_current_version_that_does_not_exist_is_refused(registry: Registry) -> None:
    """A hand-edited current_version naming no registered version is bad input (otherwise the
    next write silently deletes current_model.txt)."""
    raw = json.loads(registry.metadata_path.read_text("utf-8"))
    raw["current_version"] = 99
    registry.metadata_path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(BadInputError):
        registry.read()


def test_a_damaged_history_line_is_refused(registry: Registry) -> None:
    """A history line that is not an event is reported with its line number."""
    with registry.history_path.open("a", encoding="utf-8") as handle:
        handle.write("{half an event\n")
    with pytest.raises(BadInputError, match="line 2"):
        registry.history()


def test_commit_writes_metadata_pointer_and_one_history_line(
    add_version: AddVersion, registry: Registry
) -> None:
    """Each commit replaces metadata.json, points current_model.txt at the current file and
    appends exactly one history event with the next sequence number."""
    lines_before = registry.history_path.read_text("utf-8").splitlines()
    result = add_version()
    lines_after = registry.history_path.read_text("utf-8").splitlines()
    assert lines_after[:-1] == lines_before
    assert json.loads(lines_after[-1])["seq"] == 2
    state = registry.read()
    assert state.last_event is not None and state.last_event.seq == 2
    assert registry.pointer() == result.entry.file


def test_no_temporary_files_are_left_behind(add_version: AddVersion, registry: Registry) -> None:
    """Atomic writes clean up their temporary files."""
    add_version()
    assert list(registry.dir.parent.rglob("*.tmp")) == []


@pytest.mark.parametrize("damage", ["pointer", "history", "stats"])
def test_the_next_locked_operation_repairs_derived_files(
    add_version: AddVersion, registry: Registry, damage: str
) -> None:
    """If a writer died after committing metadata.json, the next transaction rewrites the
    pointer, the missing history line and the statistics copy from it."""
    add_version()
    expected = {
        "pointer": registry.pointer_path.read_bytes(),
        "history": registry.history_path.read_bytes(),
        "stats": registry.stats_path.read_bytes(),
    }
    if damage == "pointer":
        registry.pointer_path.write_text("churn_model_v1_stale.joblib\n", encoding="utf-8")
    elif damage == "history":
        lines = registry.history_path.read_text("utf-8").splitlines(keepends=True)
        registry.history_path.write_text("".join(lines[:-1]), encoding="utf-8")
    else:
        registry.stats_path.unlink()
    with registry.transaction():
        pass
    assert registry.pointer_path.read_bytes() == expected["pointer"]
    assert registry.stats_path.read_bytes() == expected["stats"]
    history = registry.history_path.read_text("utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in history] == [1, 2]
    assert history[-1] == expected["history"].decode("utf-8").splitlines()[-1]


def test_reading_needs_no_lock(trained_settings: Settings, registry: Registry) -> None:
    """Readers see a consistent state while a writer holds the lock."""
    with registry.transaction():
        other = Registry(trained_settings)
        assert other.read().current_version == 1
        assert other.pointer() is not None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text.replace('"f1": ', '"f1_removed": ', 1), "metrics.f1"),
        (lambda text: text.replace('"numeric": [', '"numeric_gone": [', 1), "feature_schema"),
    ],
    ids=["metric-missing", "schema-broken"],
)
def test_hand_edited_metrics_or_schema_are_refused(
    registry: Registry, edit: Callable[[str], str], message: str
) -> None:
    """A version whose metrics or feature schema were edited out of shape is refused on read,
    with the field named, instead of failing later in a command."""
    path = registry.metadata_path
    path.write_text(edit(path.read_text("utf-8")), "utf-8")
    with pytest.raises(BadInputError, match=message):
        registry.read()


def test_read_synced_finishes_a_half_derived_write(registry: Registry) -> None:
    """If a writer died after committing metadata.json but before moving the pointer, the next
    registry view moves it, so what is shown is what the API will serve."""
    current = registry.read().current
    assert current is not None
    registry.pointer_path.write_text("churn_model_v0_20000101_000000.joblib\n", "utf-8")
    assert registry.read_synced().current_version == current.version
    assert registry.pointer() == current.file


def test_a_registry_not_started_is_changed_only_by_a_creating_transaction(
    tmp_path: Path,
) -> None:
    """Without ``create`` a transaction on a home with no registry yields its empty state and
    creates nothing; a write in it is refused rather than made without the lock."""
    registry = Registry(load_settings(home=tmp_path))
    with pytest.raises(RuntimeError, match="inside a transaction"), registry.transaction() as state:
        assert state.versions == []
        registry.reserve_version(state)
    assert list(tmp_path.iterdir()) == []
    with registry.transaction(create=True) as state:
        assert registry.reserve_version(state) == 1
    assert registry.read().last_version == 1
