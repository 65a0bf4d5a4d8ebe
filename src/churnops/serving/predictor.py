"""The hot-swappable model: one immutable ``LoadedModel`` behind a single reference.

A request reads ``predictor.current`` once and uses that object to the end, so a swap never
mixes two models in one answer and in-flight requests finish on the model they started with.
A new model is only published after ``promotion.verify`` (SHA-256 of both files, load, smoke
prediction), together with the ``ModelInputs`` of the feature schema it was trained on: a
version with other features swaps validation, encoding and log columns with the model, in the
same single reference. Any failure — including a stored schema that cannot be served — leaves
the old model serving and is kept in ``last_reload_error`` until the current version serves.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import numpy as np

from churnops.errors import CheckFailedError, ChurnopsError
from churnops.model.onnx_model import OnnxModel
from churnops.registry.entries import ModelVersion, utc_now
from churnops.registry.promotion import verify
from churnops.registry.store import Registry
from churnops.schema import FeatureSchema
from churnops.serving.inputs import ModelInputs
from churnops.settings import Settings

logger = logging.getLogger("churnops.serving")


@dataclass(frozen=True)
class LoadedModel:
    """A verified model version ready to score; never mutated once published."""

    entry: ModelVersion
    model: OnnxModel
    inputs: ModelInputs  # built from the schema the model was trained on
    loaded_at: str
    loaded_at_epoch: float

    @property
    def version(self) -> int:
        return self.entry.version

    @property
    def file(self) -> str:
        return self.entry.file

    @property
    def threshold(self) -> float:
        return self.entry.threshold

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Churn probabilities (float32 matrix in, one probability per row out)."""
        return self.model.predict_matrix(matrix)


@dataclass(frozen=True)
class ReloadOutcome:
    changed: bool
    version: int | None
    error: str | None = None


Seen = tuple[tuple[int, int, int] | None, str | None]  # metadata.json's stat, the pointer


class Predictor:
    """Owns the current-model reference and the logic that replaces it.

    What to serve comes from ``registry/metadata.json``, the registry's commit point — never
    from ``current_model.txt``, which is derived from it and can lag (a writer killed between
    the two) or be edited by hand. A pointer that disagrees is reported (``pointer_warning``,
    in ``/model-info``) but never followed.
    """

    def __init__(
        self, settings: Settings, inputs_for: Callable[[FeatureSchema], ModelInputs]
    ) -> None:
        self.registry = Registry(settings)
        self.inputs_for = inputs_for
        self.home = settings.home
        self.current: LoadedModel | None = None
        self.last_reload_error: str | None = None
        self.pointer_warning: str | None = None
        self.last_check_at: str | None = None
        self.reloads = 0
        self.reload_failures = 0
        self._seen: Seen | None = None  # the registry as of the last full check
        self._lock = threading.Lock()

    def refresh(self, force: bool = False) -> ReloadOutcome:
        """Load the version metadata.json makes current if it is not the one serving.

        The registry is only re-read when metadata.json or the pointer changed, so a version
        that failed verification is not hashed and loaded again on every poll — until the
        registry changes or ``force`` is given. Once the version serving is the current one
        again, the last failure is cleared.
        """
        with self._lock:
            self.last_check_at = utc_now()
            try:
                seen = (self._metadata_stamp(), self.registry.pointer())
            except OSError as exc:
                return self._failed_reload(f"cannot read the registry ({exc})")
            if seen == self._seen and not force:
                return ReloadOutcome(False, self._serving_version(), self.last_reload_error)
            self._seen = seen
            try:
                wanted = self.registry.read().current
            except (ChurnopsError, OSError) as exc:
                return self._failed_reload(str(exc))
            self._check_pointer(seen[1], wanted)
            serving = self.current
            if wanted is None or (serving is not None and serving.version == wanted.version):
                self.last_reload_error = None
                return ReloadOutcome(False, self._serving_version(), None)
            try:
                loaded = self._load(wanted)
            except (ChurnopsError, OSError) as exc:
                return self._failed_reload(str(exc))
            self.current = loaded
            self.reloads += 1
            self.last_reload_error = None
            before = serving.entry.name if serving else "nothing"
            logger.info("now serving %s (was %s)", loaded.entry.name, before)
            return ReloadOutcome(True, loaded.version, None)

    def _serving_version(self) -> int | None:
        return self.current.version if self.current else None

    def _metadata_stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = self.registry.metadata_path.stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def _check_pointer(self, pointer: str | None, wanted: ModelVersion | None) -> None:
        """Note (and log once) a pointer that disagrees with metadata.json."""
        warning = None
        if wanted is None and self.current is not None:
            warning = (
                f"registry/metadata.json names no current version; {self.current.entry.name} "
                "keeps serving"
            )
        elif wanted is not None and pointer != wanted.file:
            warning = (
                f"registry/current_model.txt names {pointer or 'nothing'}, but "
                f"registry/metadata.json makes {wanted.name} ({wanted.file}) current: serving "
                f"{wanted.name}; any registry command (e.g. `churnops registry show`) repairs it"
            )
        if warning is not None and warning != self.pointer_warning:
            logger.warning("registry inconsistency: %s", warning)
        self.pointer_warning = warning

    def _failed_reload(self, message: str) -> ReloadOutcome:
        self.reload_failures += 1
        shown = self._home_relative(message)
        self.last_reload_error = f"{utc_now()} {shown}"
        serving = self.current
        still = f"{serving.entry.name} keeps serving" if serving else "no model is serving"
        logger.warning("model reload failed: %s; %s", message, still)
        return ReloadOutcome(False, self._serving_version(), shown)

    def _home_relative(self, message: str) -> str:
        """``message`` without the server's absolute home folder: it is shown unauthenticated
        (``/model-info``, ``/health/ready``), and paths relative to the home say enough."""
        prefixes = {str(path) for path in (self.home, self.home.resolve()) if path.is_absolute()}
        for prefix in sorted(prefixes, key=len, reverse=True):
            message = message.replace(prefix + os.sep, "")
        return message

    def _load(self, entry: ModelVersion) -> LoadedModel:
        inputs = self._inputs(entry)
        model = verify(self.registry, entry)
        return LoadedModel(
            entry=entry,
            model=model,
            inputs=inputs,
            loaded_at=utc_now(),
            loaded_at_epoch=time.time(),
        )

    def _inputs(self, entry: ModelVersion) -> ModelInputs:
        """The inputs of the schema ``entry`` was trained on: the serving model's when it is the
        same schema (a retrain), else new ones; refused when the API cannot build them."""
        schema = FeatureSchema.model_validate(entry.feature_schema)  # checked by the registry
        serving = self.current
        if serving is not None and serving.inputs.schema == schema:
            return serving.inputs
        try:
            return self.inputs_for(schema)
        except (TypeError, ValueError, NameError) as exc:  # pydantic refusing a field name…
            raise CheckFailedError(
                f"{entry.name} refused: the API cannot build requests for its features ({exc})"
            ) from exc


async def poll_registry(predictor: Predictor, interval: float) -> None:
    """Every ``interval`` seconds, check the pointer in a worker thread (hashing and loading
    a model must not stall the event loop). Runs until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(predictor.refresh)
        except Exception:  # keep polling: a bug here must not silently freeze the model
            logger.exception("registry poll failed")
