"""The hot-swappable model: one immutable ``LoadedModel`` behind a single reference.

A request reads ``predictor.current`` once and uses that object to the end, so a swap never
mixes two models in one answer and in-flight requests finish on the model they started with.
A new model is only published after ``promotion.verify`` (SHA-256 of both files, load, smoke
prediction), together with the ``ModelInputs`` of the feature schema it was trained on: a
version with other features swaps validation, encoding and log columns with the model, in the
same single reference. Any failure — including a stored schema that cannot be served — leaves
the old model serving and is kept in ``last_reload_error`` until the current version serves.
A registry that cannot be read (its database away) fails every poll: that is logged at most
once per 10 s, and its return once.

The registry's experiment is followed the same way: its challenger is verified like a swap,
then published with the champion in one ``Serving`` (``serving.routing``), so a request sees a
consistent pair. A challenger that fails leaves the champion answering every request, and the
reason in ``experiment_error``; a stopped experiment drops the challenger.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from churnops.errors import CheckFailedError, ChurnopsError
from churnops.model.onnx_model import OnnxModel
from churnops.registry.entries import Experiment, ModelVersion, RegistryFile, utc_now
from churnops.registry.promotion import verify
from churnops.registry.store import open_registry
from churnops.schema import FeatureSchema
from churnops.serving.inputs import ModelInputs
from churnops.serving.routing import (
    VERSION_HEADER,
    RawHeaders,
    RunningExperiment,
    Serving,
    raw_headers,
)
from churnops.serving.throttled_log import ThrottledLog
from churnops.settings import Settings

logger = logging.getLogger("churnops.serving")
NO_MODEL_YET = "the registry has no current model yet (run `churnops train`)"


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

    @functools.cached_property
    def headers(self) -> RawHeaders:
        """The response headers of an answer it gives outside an experiment."""
        return raw_headers({VERSION_HEADER: str(self.entry.version)})

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


Seen = tuple[object, str | None]  # the registry's stamp (metadata.json's stat), the pointer


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
        self.registry = open_registry(settings)
        self.inputs_for = inputs_for
        self.home = settings.home
        self.serving: Serving | None = None  # the one swappable reference
        self.last_reload_error: str | None = None
        self.experiment_error: str | None = None  # why the registry's experiment is not applied
        self.experiment_failures = 0
        self.pointer_warning: str | None = None
        self.last_check_at: str | None = None
        self.reloads = 0
        self.reload_failures = 0
        self._seen: Seen | None = None  # the registry as of the last full check
        self._lock = threading.Lock()
        # an unreadable registry (the database away) fails every poll: one line per interval
        self._unreadable_log = ThrottledLog(logger)
        self._unreadable_since: str | None = None  # the first check of a run that failed
        self._unreadable_checks = 0

    @property
    def current(self) -> LoadedModel | None:
        """The champion: the model answering every request outside an experiment."""
        serving = self.serving
        return serving.champion if serving is not None else None

    @property
    def not_ready_reason(self) -> str:
        """Why no model serves (``/health/ready``, the 503 of ``/predict``): the last reload's
        failure — the registry unreadable, a version refused — else an empty registry."""
        return self.last_reload_error or NO_MODEL_YET

    def refresh(self, force: bool = False) -> ReloadOutcome:
        """Load the version metadata.json makes current if it is not the one serving, and
        follow its experiment (see ``_follow``); publish both in one reference.

        The registry is only re-read when metadata.json or the pointer changed, so a version
        that failed verification is not hashed and loaded again on every poll — until the
        registry changes or ``force`` is given. Once the version serving is the current one
        again, the last failure is cleared; a registry that could not be read at all is read in
        full at the next check that can (the stamp of a database back from an outage is the
        one seen before it).
        """
        with self._lock:
            self.last_check_at = utc_now()
            try:
                seen = (self.registry.stamp(), self.registry.pointer())
            except (OSError, ChurnopsError) as exc:  # a file, or the database, unreadable
                self._seen = None
                return self._unreadable(exc)
            self._readable_again()
            if seen == self._seen and not force:
                return ReloadOutcome(False, self._serving_version(), self.last_reload_error)
            self._seen = seen
            try:
                state = self.registry.read()
            except (ChurnopsError, OSError) as exc:
                return self._failed_reload(str(exc))
            wanted = state.current
            self._check_pointer(seen[1], wanted)
            if wanted is None:
                self.last_reload_error = None
                return ReloadOutcome(False, self._serving_version(), None)
            serving = self.serving
            champion = serving.champion if serving is not None else None
            if champion is None or champion.version != wanted.version:
                try:
                    champion = self._load(wanted, champion)
                except (ChurnopsError, OSError) as exc:
                    return self._failed_reload(str(exc))
            self.last_reload_error = None
            return self._publish(serving, champion, self._follow(state, champion, serving))

    def _publish(
        self, serving: Serving | None, champion: LoadedModel, running: RunningExperiment | None
    ) -> ReloadOutcome:
        """Swap the reference when the champion or the experiment changed."""
        if serving is not None and serving.champion is champion and serving.experiment is running:
            return ReloadOutcome(False, champion.version, None)
        self.serving = Serving(champion, running)
        changed = serving is None or serving.champion is not champion
        if changed:
            self.reloads += 1
            before = serving.champion.entry.name if serving else "nothing"
            logger.info("now serving %s (was %s)", champion.entry.name, before)
        return ReloadOutcome(changed, champion.version, None)

    def _follow(
        self, state: RegistryFile, champion: LoadedModel, serving: Serving | None
    ) -> RunningExperiment | None:
        """The registry's experiment, its challenger verified (as a swap is); the running one
        when unchanged. A challenger that cannot serve leaves the champion answering every
        request, and the reason in ``experiment_error``."""
        experiment = state.experiment
        running = serving.experiment if serving is not None else None
        if experiment is None:
            if running is not None:
                logger.info(
                    "experiment %s ended: %s answers every request",
                    running.experiment.id,
                    champion.entry.name,
                )
            self.experiment_error = None
            return None
        if (
            running is not None
            and running.experiment == experiment
            and running.champion is champion
        ):
            return running
        try:
            started = self._start(state, experiment, champion)
        except (ChurnopsError, OSError) as exc:
            self.experiment_failures += 1
            shown = self._home_relative(str(exc))
            self.experiment_error = (
                f"{utc_now()} experiment {experiment.id} not applied: {shown}; "
                f"{champion.entry.name} answers every request"
            )
            logger.warning("%s", self.experiment_error)
            return None
        self.experiment_error = None
        logger.info("experiment %s: %s", experiment.id, experiment.describe())
        return started

    def _start(
        self, state: RegistryFile, experiment: Experiment, champion: LoadedModel
    ) -> RunningExperiment:
        if experiment.champion != champion.version:
            raise CheckFailedError(
                f"its champion v{experiment.champion} is not the version serving"
            )
        entry = state.get(experiment.challenger)
        if entry is None:
            raise CheckFailedError(f"its challenger v{experiment.challenger} is not registered")
        challenger = self._load(entry, champion)
        ours = challenger.inputs.schema.encoded_names
        if ours != champion.inputs.schema.encoded_names:
            raise CheckFailedError(
                f"{entry.name} takes other features than {champion.entry.name} ({ours})"
            )
        return RunningExperiment(experiment, champion, challenger)

    def _serving_version(self) -> int | None:
        current = self.current
        return current.version if current else None

    def _check_pointer(self, pointer: str | None, wanted: ModelVersion | None) -> None:
        """Note (and log once) a pointer that disagrees with metadata.json."""
        warning = None
        if wanted is None and self.current is not None:
            where = self._home_relative(self.registry.location)
            warning = f"{where} names no current version; {self.current.entry.name} keeps serving"
        elif wanted is not None and pointer != wanted.file:  # only files have a pointer apart
            warning = (
                f"registry/current_model.txt names {pointer or 'nothing'}, but "
                f"registry/metadata.json makes {wanted.name} ({wanted.file}) current: serving "
                f"{wanted.name}; any registry command (e.g. `churnops registry show`) repairs it"
            )
        if warning is not None and warning != self.pointer_warning:
            logger.warning("registry inconsistency: %s", warning)
        self.pointer_warning = warning

    def _unreadable(self, exc: Exception) -> ReloadOutcome:
        """A check that could not read the registry: logged at most once per interval."""
        if self._unreadable_since is None:
            self._unreadable_since = self.last_check_at
        self._unreadable_checks += 1
        return self._failed_reload(f"cannot read the registry ({exc})", self._unreadable_log)

    def _readable_again(self) -> None:
        """Say once that the registry can be read again after checks that could not."""
        if self._unreadable_since is None:
            return
        logger.info(
            "registry readable again (%d check(s) failed since %s)",
            self._unreadable_checks,
            self._unreadable_since,
        )
        self._unreadable_since, self._unreadable_checks = None, 0

    def _failed_reload(self, message: str, log: ThrottledLog | None = None) -> ReloadOutcome:
        self.reload_failures += 1
        shown = self._home_relative(message)
        self.last_reload_error = f"{utc_now()} {shown}"
        serving = self.current
        still = f"{serving.entry.name} keeps serving" if serving else "no model is serving"
        if log is None:
            logger.warning("model reload failed: %s; %s", message, still)
        else:
            log.event("model reload failed: %s; %s", message, still)
        return ReloadOutcome(False, self._serving_version(), shown)

    def _home_relative(self, message: str) -> str:
        """``message`` without the server's absolute home folder: it is shown unauthenticated
        (``/model-info``, ``/health/ready``), and paths relative to the home say enough."""
        prefixes = {str(path) for path in (self.home, self.home.resolve()) if path.is_absolute()}
        for prefix in sorted(prefixes, key=len, reverse=True):
            message = message.replace(prefix + os.sep, "")
        return message

    def _load(self, entry: ModelVersion, like: LoadedModel | None) -> LoadedModel:
        inputs = self._inputs(entry, like)
        model = verify(self.registry, entry)
        return LoadedModel(
            entry=entry,
            model=model,
            inputs=inputs,
            loaded_at=utc_now(),
            loaded_at_epoch=time.time(),
        )

    def _inputs(self, entry: ModelVersion, like: LoadedModel | None) -> ModelInputs:
        """The inputs of the schema ``entry`` was trained on: ``like``'s when it is the same
        schema (a retrain), else new ones; refused when the API cannot build them."""
        schema = FeatureSchema.model_validate(entry.feature_schema)  # checked by the registry
        if like is not None and like.inputs.schema == schema:
            return like.inputs
        try:
            return self.inputs_for(schema)
        except (TypeError, ValueError, NameError) as exc:  # pydantic refusing a field name…
            raise CheckFailedError(
                f"{entry.name} refused: the API cannot build requests for its features ({exc})"
            ) from exc
