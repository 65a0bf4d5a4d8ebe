"""The hot-swappable model: one immutable ``LoadedModel`` behind a single reference.

A request reads ``predictor.current`` once and uses that object to the end, so a swap never
mixes two models in one answer and in-flight requests finish on the model they started with.
A new model is only published after ``lifecycle.verify`` (SHA-256 of both files, load, smoke
prediction) and a check that it takes the features this API validates; any failure leaves the
old model serving and is kept in ``last_reload_error``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass

import anyio
import numpy as np

from churnops.errors import CheckFailedError, ChurnopsError
from churnops.model.onnx_model import OnnxModel
from churnops.registry.entries import ModelVersion, utc_now
from churnops.registry.lifecycle import verify
from churnops.registry.store import Registry
from churnops.schema import FeatureSchema
from churnops.serving.encoding import RowEncoder
from churnops.settings import Settings

logger = logging.getLogger("churnops.serving")


@dataclass(frozen=True)
class LoadedModel:
    """A verified model version ready to score; never mutated once published."""

    entry: ModelVersion
    model: OnnxModel
    encoder: RowEncoder
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


class Predictor:
    """Owns the current-model reference and the logic that replaces it."""

    def __init__(self, settings: Settings, schema: FeatureSchema) -> None:
        self.registry = Registry(settings)
        self.schema = schema
        self.current: LoadedModel | None = None
        self.last_reload_error: str | None = None
        self.last_check_at: str | None = None
        self.reloads = 0
        self.reload_failures = 0
        self._failed: tuple[str, int] | None = None  # (pointer, metadata mtime) that failed
        self._lock = threading.Lock()

    def refresh(self, force: bool = False) -> ReloadOutcome:
        """Load the version ``current_model.txt`` names if it is not the one serving.

        A pointer that already failed is not retried on every poll (verification hashes and
        loads files) until the registry changes again or ``force`` is given.
        """
        with self._lock:
            self.last_check_at = utc_now()
            serving = self.current
            serving_version = serving.version if serving else None
            try:
                pointer = self.registry.pointer()
                stamp = self._metadata_stamp()
            except OSError as exc:
                return self._failed_reload(None, f"cannot read the registry ({exc})")
            if pointer is None or (serving is not None and pointer == serving.file):
                return ReloadOutcome(False, serving_version, None)
            if not force and self._failed == (pointer, stamp):
                return ReloadOutcome(False, serving_version, self.last_reload_error)
            try:
                loaded = self._load(pointer)
            except (ChurnopsError, OSError) as exc:
                return self._failed_reload((pointer, stamp), str(exc))
            self.current = loaded
            self.reloads += 1
            self.last_reload_error = None
            self._failed = None
            before = f"v{serving_version}" if serving_version is not None else "nothing"
            logger.info("now serving %s (was %s)", loaded.entry.name, before)
            return ReloadOutcome(True, loaded.version, None)

    def _metadata_stamp(self) -> int:
        path = self.registry.metadata_path
        return path.stat().st_mtime_ns if path.exists() else 0

    def _failed_reload(self, key: tuple[str, int] | None, message: str) -> ReloadOutcome:
        self.reload_failures += 1
        self._failed = key
        self.last_reload_error = f"{utc_now()} {message}"
        serving = self.current
        still = f"{serving.entry.name} keeps serving" if serving else "no model is serving"
        logger.warning("model reload failed: %s; %s", message, still)
        return ReloadOutcome(False, serving.version if serving else None, message)

    def _load(self, pointer: str) -> LoadedModel:
        entry = next((v for v in self.registry.read().versions if v.file == pointer), None)
        if entry is None:
            raise CheckFailedError(
                f"registry/current_model.txt names {pointer}, which metadata.json does not list"
            )
        declared = FeatureSchema.model_validate(entry.feature_schema)
        if declared.encoded_names != self.schema.encoded_names:
            raise CheckFailedError(
                f"{entry.name} refused: it was trained on features {declared.encoded_names}, "
                f"this API validates {self.schema.encoded_names}; restart the API with its schema"
            )
        model = verify(self.registry, entry)
        return LoadedModel(
            entry=entry,
            model=model,
            encoder=RowEncoder(self.schema),
            loaded_at=utc_now(),
            loaded_at_epoch=time.time(),
        )


async def poll_registry(predictor: Predictor, interval: float) -> None:
    """Every ``interval`` seconds, check the pointer in a worker thread (hashing and loading
    a model must not stall the event loop). Runs until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(predictor.refresh)
        except Exception:  # keep polling: a bug here must not silently freeze the model
            logger.exception("registry poll failed")
