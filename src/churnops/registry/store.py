"""The registry on disk: ``registry/metadata.json`` is the truth, everything else derives from it.

Every write happens under one file lock. ``metadata.json`` is replaced atomically and is the
commit point; the pointer ``current_model.txt``, the ``train_stats.json`` copy and the last
history line are derived from it afterwards, and repaired from it on the next locked write if a
process died in between. So a registry is always either the old state or the new one.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from filelock import FileLock
from pydantic import ValidationError

from churnops.atomic import append_line, atomic_write_json, atomic_write_text
from churnops.errors import BadInputError, CheckFailedError
from churnops.registry.entries import (
    FORMAT,
    MAX_VERSION,
    Action,
    HistoryEvent,
    ModelVersion,
    RegistryFile,
    utc_now,
)
from churnops.settings import Settings

LOCK_TIMEOUT_S = 120.0  # how long a change waits for another one holding the registry
METADATA = "metadata.json"
ARTIFACT_RE = re.compile(r"churn_model_v[0-9]+_[0-9]{8}_[0-9]{6}\.(?:joblib|onnx)")


def artifact_stem(version: int, when: datetime) -> str:
    """The file name, less its suffix, of a version's artifacts: matched by ``ARTIFACT_RE``."""
    return f"churn_model_v{version}_{when:%Y%m%d_%H%M%S}"


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


class Registry:
    def __init__(self, settings: Settings) -> None:
        self._at(settings.registry_dir, settings.models_dir)

    def _at(self, registry_dir: Path, models_dir: Path) -> None:
        self.dir = registry_dir
        self.models_dir = models_dir
        self.metadata_path = self.dir / METADATA
        self.pointer_path = self.dir / "current_model.txt"
        self.stats_path = self.dir / "train_stats.json"
        self.history_path = self.dir / "history.jsonl"
        self._lock = FileLock(self.dir / ".lock", timeout=LOCK_TIMEOUT_S)

    @property
    def location(self) -> str:
        """Where the registry's truth is, as a message names it."""
        return str(self.metadata_path)

    # ---- reading (no lock needed: every file is replaced atomically) -------------------------
    def read(self) -> RegistryFile:
        if not self.metadata_path.exists():
            return RegistryFile()
        try:
            raw = json.loads(self.metadata_path.read_text(encoding="utf-8"))
            return RegistryFile.model_validate(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadInputError(
                f"{self.metadata_path} is not valid JSON ({exc}); restore it from a backup or "
                "version control — nothing was changed"
            ) from exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise BadInputError(
                f"{self.metadata_path} was edited into an invalid state ({where}: {first['msg']}); "
                "restore it from a backup — nothing was changed"
            ) from exc

    def read_synced(self) -> RegistryFile:
        """``read()``, first finishing a write that a killed process left half-derived (the
        pointer or history behind metadata.json), so what is shown is what the API serves."""
        state = self.read()
        current = state.current
        history = self.history()
        behind = state.last_event is not None and (
            not history or history[-1].seq < state.last_event.seq
        )
        if self.pointer() != (current.file if current else None) or behind:
            with self.transaction() as state:
                pass
        return state

    def history(self) -> list[HistoryEvent]:
        if not self.history_path.exists():
            return []
        try:
            lines = self.history_path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise BadInputError(
                f"{self.history_path} is not UTF-8 text; restore the file from a backup"
            ) from exc
        events = []
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                events.append(HistoryEvent.model_validate_json(line))
            except ValidationError as exc:
                raise BadInputError(
                    f"{self.history_path} line {number + 1} is not a history event; "
                    "restore the file from a backup"
                ) from exc
        return events

    def stamp(self) -> object:
        """Changes whenever the registry does (cheap: the API checks it every poll)."""
        try:
            stat = self.metadata_path.stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def pointer(self) -> str | None:
        """The artifact file name ``current_model.txt`` names, as the API reads it."""
        if not self.pointer_path.exists():
            return None
        return self.pointer_path.read_text(encoding="utf-8").strip() or None

    def require(self, state: RegistryFile, version: int) -> ModelVersion:
        entry = state.get(version)
        if entry is None:
            known = ", ".join(v.name for v in state.versions) or "none yet — run `churnops train`"
            raise BadInputError(f"there is no model version v{version}; registered: {known}")
        return entry

    def artifact_path(self, entry: ModelVersion) -> Path:
        return self._in_models(entry, entry.file)

    def onnx_path(self, entry: ModelVersion) -> Path:
        return self._in_models(entry, entry.onnx_file)

    def _in_models(self, entry: ModelVersion, name: str) -> Path:
        """``models/name``, refused when a symlink leads it outside models/ (the entry itself
        only ever holds a bare file name)."""
        path = self.models_dir / name
        try:
            inside = path.resolve().is_relative_to(self.models_dir.resolve())
        except (OSError, RuntimeError) as exc:  # RuntimeError: a link loop (Python < 3.13)
            raise CheckFailedError(
                f"{entry.name} refused: models/{name} is a link that cannot be followed"
            ) from exc
        if not inside:
            raise CheckFailedError(
                f"{entry.name} refused: models/{name} is a link that leads outside models/"
            )
        return path

    def version_dir(self, version: int) -> Path:
        return self.dir / "versions" / f"v{version}"

    def heal(self, version: int) -> bool:
        """Restore a version's files from another copy, if the store keeps one; whether it
        did. The files under home are the only copy, so nothing can be restored here."""
        return False

    # ---- writing ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self, create: bool = False) -> Iterator[RegistryFile]:
        """Hold the lock; yield the current state (repaired if a writer died half-way).

        Only ``create`` (registering a version) starts a registry whose folder does not exist;
        for any other change such a registry is its empty state, yielded without a lock for the
        caller to refuse in its words (nothing to promote, no champion), and nothing is created.
        """
        if not create and not self.dir.is_dir():
            yield RegistryFile()
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            state = self.read()
            self._sync_derived(state)
            yield state

    def reserve_version(self, state: RegistryFile) -> int:
        """The next version number, recorded in metadata.json before any file of it is written,
        so a training killed before its commit never has its number handed out again.
        Numbers come from the registry only, never from file names; call inside
        ``transaction``."""
        if state.last_version >= MAX_VERSION:
            raise CheckFailedError(
                f"every version number up to v{MAX_VERSION} has been used; start a new "
                "registry (another --home) for more versions — nothing was changed"
            )
        state.last_version += 1
        self._write(state)
        return state.last_version

    def commit(
        self,
        state: RegistryFile,
        action: Action,
        from_version: int | None,
        to_version: int | None,
        reason: str,
    ) -> HistoryEvent:
        """Write ``state`` with one new history event; call only inside ``transaction``."""
        event = HistoryEvent(
            seq=self.next_seq(state),
            time=utc_now(),
            action=action,
            from_version=from_version,
            to_version=to_version,
            reason=reason,
            user=current_user(),
        )
        for entry in state.versions:
            if entry.status != "rejected":
                entry.status = "current" if entry.version == state.current_version else "archived"
        state.last_event = event
        self._write(state)
        self._sync_derived(state)
        return event

    def next_seq(self, state: RegistryFile) -> int:
        """The number the next history event will have."""
        return (state.last_event.seq if state.last_event else len(self.history())) + 1

    def _write(self, state: RegistryFile) -> None:
        if not self._lock.is_locked:  # a change outside a transaction, or of an unstarted one
            raise RuntimeError(f"{self.metadata_path} must be written inside a transaction")
        state.format = FORMAT
        atomic_write_json(self.metadata_path, state.model_dump(mode="json"))

    def _sync_derived(self, state: RegistryFile) -> None:
        """Make pointer, stats copy and history agree with metadata.json."""
        event = state.last_event
        history = self.history()
        if event is not None and (not history or history[-1].seq < event.seq):
            append_line(self.history_path, event.model_dump_json())
        current = state.current
        wanted = current.file if current else None
        if self.pointer() != wanted:
            if wanted is None:
                self.pointer_path.unlink(missing_ok=True)
            else:
                atomic_write_text(self.pointer_path, wanted + "\n")
        if current is not None:
            source = self.version_dir(current.version) / "train_stats.json"
            if source.exists() and (
                not self.stats_path.exists() or self.stats_path.read_bytes() != source.read_bytes()
            ):
                atomic_write_text(self.stats_path, source.read_text(encoding="utf-8"))


def file_registry_note(settings: Settings) -> str | None:
    """With the registry in PostgreSQL, a word when the home also holds a file registry: it
    is neither used nor touched, and its versions reach the database only when imported."""
    if settings.database is None or not (settings.registry_dir / METADATA).exists():
        return None
    return (
        f"{settings.registry_dir} holds a file registry, left untouched: the registry in use "
        f"is in the database; `churnops db import --from {settings.home}` copies a file "
        "registry into an empty database"
    )


def open_registry(settings: Settings) -> Registry:
    """The project's registry: in PostgreSQL when ``CHURNOPS_DATABASE_URL`` is set, else the
    files under home."""
    if settings.database is None:
        return Registry(settings)
    from churnops.registry.postgres import PostgresRegistry  # the driver, only when used

    return PostgresRegistry(settings, settings.database)
