"""The registry in PostgreSQL (``CHURNOPS_DATABASE_URL``): the file registry's interface, so
training, promotion, experiments and the API do not care which one they use.

- The registry document (``RegistryFile``: versions, metadata, status, current version,
  experiment) is one row of ``registry_state``; ``transaction`` locks it (``SELECT … FOR
  UPDATE``) for the whole change, which commits — document, history event and artifacts — in
  one database transaction, or not at all.
- Version numbers come from the ``registry_versions`` sequence: unique across machines and
  never reused, even when a training fails after taking one.
- The history is ``registry_history``, append-only (a trigger refuses changes).
- Artifacts (the ONNX and joblib files, the per-version samples and statistics) are stored in
  ``registry_artifacts`` at registration. ``home/.cache/database/NAME-ID`` is a local cache,
  one per database and apart from the file registry's ``models/`` and ``registry/`` (a home
  may hold one, which is never touched): a version's files are written there from the
  database when first asked for, each checked against its SHA-256, so a replica starts from
  an empty home; a cached file that fails its check is fetched again.
- A change waits at most ``LOCK_TIMEOUT_S`` for another one holding the registry, as with
  the file registry's lock, then gives up naming the session holding it.
- A commit sends ``NOTIFY churnops_registry`` (delivered when it commits).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from churnops.atomic import atomic_write_bytes, sha256_file
from churnops.database.migrations import REGISTRY_UNUSED, open_checked
from churnops.database.url import DatabaseUrl, scrub
from churnops.errors import BadInputError, CheckFailedError
from churnops.registry.entries import (
    FORMAT,
    MAX_VERSION,
    HistoryEvent,
    ModelVersion,
    RegistryFile,
)
from churnops.registry.store import LOCK_TIMEOUT_S, Registry
from churnops.settings import Settings

CHANNEL = "churnops_registry"


@dataclass(frozen=True)
class Imported:
    versions: int
    events: int
    artifacts: int
    already: bool  # the same registry was there: nothing done


def _version_files(registry: Registry, entry: ModelVersion) -> dict[str, Path]:
    """A version's files in a home, by their stored names (``models/…``, ``versions/vN/…``)."""
    files = {f"models/{entry.file}": registry.models_dir / entry.file}
    files[f"models/{entry.onnx_file}"] = registry.models_dir / entry.onnx_file
    folder = registry.dir / "versions" / f"v{entry.version}"
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_file():
            files[str(path.relative_to(registry.dir))] = path
    return files


Connection = psycopg.Connection[tuple[Any, ...]]

# sessions holding the registry row (or its table) for a change; waiting ones excluded
LOCK_HOLDERS = """
SELECT DISTINCT held.pid FROM pg_locks held
WHERE held.relation = 'registry_state'::regclass AND held.granted
  AND held.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND held.mode <> 'AccessShareLock' AND held.pid <> pg_backend_pid()
  AND NOT EXISTS (SELECT 1 FROM pg_locks waiting WHERE waiting.pid = held.pid
                  AND NOT waiting.granted)
ORDER BY held.pid
"""


def cache_folder(home: Path, url: DatabaseUrl) -> Path:
    """Where a home keeps its copies of one database's artifacts: ``.cache/database/NAME-ID``
    (the database's name, and a digest of its URL without the password), so a file registry
    in the same home and another database's versions never share a path."""
    shown = str(url)  # never the password, not even in part
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", urlsplit(shown).path.lstrip("/"))[:40]
    digest = hashlib.sha256(shown.encode()).hexdigest()[:12]
    return home / ".cache" / "database" / f"{name or 'database'}-{digest}"


def _first_line(exc: psycopg.Error) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PostgresRegistry(Registry):
    def __init__(
        self, settings: Settings, url: DatabaseUrl, lock_timeout: float = LOCK_TIMEOUT_S
    ) -> None:
        super().__init__(settings)
        cache = cache_folder(settings.home, url)
        self._at(cache / "registry", cache / "models")
        self.url = url
        self.lock_timeout = lock_timeout
        self._conn: Connection | None = None  # the open transaction's
        self._cached: set[int] = set()  # versions whose files this process has checked
        # reads outside a transaction share one connection (the API checks every poll):
        # opening one per read costs a server process start and a password exchange
        self._reader: Connection | None = None
        self._reader_lock = threading.Lock()

    @contextmanager
    def _session(self) -> Iterator[Connection]:
        """The open transaction's connection, or the shared reading one (reopened when lost)."""
        if self._conn is not None:
            yield self._conn
            return
        with self._reader_lock:
            if self._reader is None or self._reader.closed:
                self._reader = open_checked(self.url, autocommit=True)
            try:
                yield self._reader
            except psycopg.Error as exc:  # a restart, an outage, a table gone: one line
                if isinstance(exc, psycopg.OperationalError):
                    self._reader.close()
                line = scrub(_first_line(exc), self.url.value)
                raise BadInputError(f"database {self.url}: {line}") from exc

    @property
    def location(self) -> str:
        return f"the registry in {self.url}"

    # ---- reading ---------------------------------------------------------------------------
    def read(self) -> RegistryFile:
        with self._session() as conn:
            row = conn.execute("SELECT document FROM registry_state WHERE id = 1").fetchone()
            if row is None:
                raise self._missing_row(conn)
        return self._document(row)

    def _missing_row(self, conn: Connection) -> BadInputError:
        """The registry row was deleted by hand: ``db upgrade`` re-creates it only while the
        registry never held anything; else only a backup has what it said."""
        unused = conn.execute(f"SELECT {REGISTRY_UNUSED}").fetchone()
        if unused is not None and unused[0]:
            return BadInputError(
                f"database {self.url} has no registry row: run `churnops db upgrade`, which "
                "re-creates the empty registry"
            )
        return BadInputError(
            f"database {self.url} has lost its registry row (registry_state was emptied) while "
            "its history and artifacts remain: restore the database from a backup — nothing "
            "was changed"
        )

    def _document(self, row: tuple[Any, ...]) -> RegistryFile:
        try:
            return RegistryFile.model_validate(row[0])
        except ValidationError as exc:
            first = exc.errors()[0]
            raise BadInputError(
                f"the registry in {self.url} is in an invalid state ({first['msg']}); restore "
                "the database from a backup — nothing was changed"
            ) from exc

    def read_synced(self) -> RegistryFile:
        return self.read()  # nothing is derived: one transaction writes everything

    def history(self) -> list[HistoryEvent]:
        with self._session() as conn:
            rows = conn.execute("SELECT event FROM registry_history ORDER BY seq").fetchall()
        return [HistoryEvent.model_validate(row[0]) for row in rows]

    def pointer(self) -> str | None:
        current = self.read().current
        return current.file if current else None

    def stamp(self) -> object:
        with self._session() as conn:
            row = conn.execute("SELECT changed_at FROM registry_state WHERE id = 1").fetchone()
        return row[0] if row else None

    # ---- the local cache of artifacts ----------------------------------------------------
    def artifact_path(self, entry: ModelVersion) -> Path:
        self._cache(entry.version)
        return super().artifact_path(entry)

    def onnx_path(self, entry: ModelVersion) -> Path:
        self._cache(entry.version)
        return super().onnx_path(entry)

    def version_dir(self, version: int) -> Path:
        self._cache(version)
        return super().version_dir(version)

    def heal(self, version: int) -> bool:
        """Write the version's files again from the database where the cached ones differ."""
        self._cached.discard(version)
        self._cache(version)
        return True

    def _cache(self, version: int) -> None:
        """Write the version's stored files into the local cache where absent or different."""
        if version in self._cached:
            return
        with self._session() as conn:
            rows = conn.execute(
                "SELECT name, sha256, content FROM registry_artifacts WHERE version = %s",
                (version,),
            ).fetchall()
        for name, sha256, content in rows:
            path = self._local(name)
            if path.exists() and sha256_file(path) == sha256:
                continue
            if hashlib.sha256(content).hexdigest() != sha256:
                raise CheckFailedError(
                    f"v{version} refused: {name} in {self.url} does not match its registered "
                    "SHA-256 (corrupted or altered)"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, content)
        if rows:
            self._cached.add(version)

    def _local(self, name: str) -> Path:
        """Where a stored artifact (``models/FILE`` or ``versions/vN/FILE``) is cached."""
        folder, _, rest = name.partition("/")
        return (self.models_dir if folder == "models" else self.dir / folder) / rest

    def _upload(self, conn: Connection, entry: ModelVersion, source: Registry | None = None) -> int:
        """Store a version's files (from ``source``'s folders, default this home's) with their
        SHA-256; how many."""
        files = _version_files(source or self, entry)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO registry_artifacts (version, name, sha256, content) "
                "VALUES (%s, %s, %s, %s)",
                [
                    (entry.version, name, sha256_file(path), path.read_bytes())
                    for name, path in files.items()
                ],
            )
        return len(files)

    def import_from(self, source: Registry) -> Imported:
        """Copy a file registry — document, history, artifacts (checked against their
        registered SHA-256) — into this empty one, in one transaction. Importing the same
        registry again changes nothing; into a registry holding anything else is refused."""
        state, history = source.read_synced(), source.history()
        with self.transaction() as current:
            if current == state:
                return Imported(len(state.versions), len(history), 0, already=True)
            if current.versions or current.last_event is not None:
                raise CheckFailedError(
                    f"the registry in {self.url} already holds versions; import into an empty "
                    "database — nothing was changed"
                )
            for entry in state.versions:
                for path, expected in (
                    (source.artifact_path(entry), entry.sha256),
                    (source.onnx_path(entry), entry.onnx_sha256),
                ):
                    if not path.exists() or sha256_file(path) != expected:
                        raise CheckFailedError(
                            f"{entry.name} cannot be imported: {path} is missing or does not "
                            "match its registered SHA-256 — nothing was changed"
                        )
            assert self._conn is not None
            self._write(state)
            for event in history:
                self._conn.execute(
                    "INSERT INTO registry_history (seq, event) VALUES (%s, %s)",
                    (event.seq, Jsonb(event.model_dump(mode="json"))),
                )
            stored = sum(self._upload(self._conn, entry, source) for entry in state.versions)
            if state.last_version:  # never backwards: numbers already handed out stay used
                self._conn.execute(
                    "SELECT setval('registry_versions', greatest(last_value, %s)) "
                    "FROM registry_versions",
                    (state.last_version,),
                )
            self._conn.execute("SELECT pg_notify(%s, 'import')", (CHANNEL,))
        return Imported(len(state.versions), len(history), stored, already=False)

    # ---- writing ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self, create: bool = False) -> Iterator[RegistryFile]:
        """One database transaction holding the registry row's lock: what the block commits
        (``commit``) is stored together when it ends, nothing if it raises. The registry is
        the database's (``db upgrade`` made it), so ``create`` only makes the local cache's
        folder."""
        if create:
            self.dir.mkdir(parents=True, exist_ok=True)
        with open_checked(self.url) as conn:
            conn.execute(
                "SELECT set_config('lock_timeout', %s, true)",
                (f"{round(self.lock_timeout * 1000)}ms",),
            )
            try:
                row = conn.execute(
                    "SELECT document FROM registry_state WHERE id = 1 FOR UPDATE"
                ).fetchone()
            except psycopg.errors.LockNotAvailable as exc:
                conn.rollback()
                raise self._locked(conn) from exc
            if row is None:
                raise self._missing_row(conn)
            state = self._document(row)
            self._conn = conn
            try:
                yield state
            finally:
                self._conn = None

    def _locked(self, conn: Connection) -> BadInputError:
        holders = ", ".join(f"pid {pid}" for (pid,) in conn.execute(LOCK_HOLDERS).fetchall())
        return BadInputError(
            f"the registry in {self.url} stayed locked by another session "
            f"({holders or 'which ended since'}) for {self.lock_timeout:g} s: try again when it "
            "is done, or end it (SELECT pg_terminate_backend(PID)) — nothing was changed"
        )

    def reserve_version(self, state: RegistryFile) -> int:
        """The sequence's next number (its maximum is ``MAX_VERSION``)."""
        with self._session() as conn:
            try:
                row = conn.execute("SELECT nextval('registry_versions')").fetchone()
            except psycopg.errors.SequenceGeneratorLimitExceeded as exc:
                raise CheckFailedError(
                    f"every version number up to v{MAX_VERSION} has been used; nothing was changed"
                ) from exc
        version = int(row[0]) if row else 0
        state.last_version = max(state.last_version, version)
        return version

    def next_seq(self, state: RegistryFile) -> int:
        return (state.last_event.seq if state.last_event else 0) + 1

    def _write(self, state: RegistryFile) -> None:
        state.format = FORMAT
        with self._session() as conn:
            conn.execute(
                "UPDATE registry_state SET document = %s, current_version = %s, "
                "changed_at = clock_timestamp() WHERE id = 1",
                (Jsonb(state.model_dump(mode="json")), state.current_version),
            )

    def _sync_derived(self, state: RegistryFile) -> None:
        """After ``commit`` wrote the document: the history event, the new version's files, and
        the notification — all in the same transaction."""
        event = state.last_event
        with self._session() as conn:
            if event is not None:
                conn.execute(
                    "INSERT INTO registry_history (seq, event) VALUES (%s, %s)",
                    (event.seq, Jsonb(event.model_dump(mode="json"))),
                )
            stored = {
                row[0] for row in conn.execute("SELECT DISTINCT version FROM registry_artifacts")
            }
            for entry in state.versions:
                if entry.version not in stored:
                    self._upload(conn, entry)
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(event.seq if event else 0)))
