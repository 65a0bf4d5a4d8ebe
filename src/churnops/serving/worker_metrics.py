"""Metrics of several worker processes (``churnops serve --workers N``): prometheus-client's
multiprocess mode.

Each worker writes its metrics to its own files in one folder, ``PROMETHEUS_MULTIPROC_DIR``,
which ``churnops serve`` creates (or empties: a previous run's files must never count) before
any worker starts; whichever worker answers ``/metrics`` adds up every worker's files. The
request-path counters and the latency histogram are prometheus-client metrics, so in this
mode they write to the files themselves. The state read from this process's objects (the
model serving, the log writer, connections, the probability histogram) is copied to its files
by :class:`ProcessFiles` every second, before this worker answers a scrape, and once more when
it stops — so another worker's state in a scrape is at most about a second old.

How a gauge is combined over the workers (prometheus-client's ``multiprocess_mode``) is
:data:`GAUGE_MODES`; a gauge it does not list keeps one series per worker (a ``pid`` label).
Only live workers' gauges count: a worker removes its gauge files when it stops, and those of
a worker killed without stopping (OOM, uvicorn's health check) are removed at the next scrape.
Counters of workers that have gone keep counting, so totals never go down.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, values
from prometheus_client.core import Metric
from prometheus_client.multiprocess import mark_process_dead
from prometheus_client.samples import Sample

from churnops.errors import BadInputError

FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's switch to multiprocess mode
PUBLISH_SECONDS = 1.0
LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")
# Flags of health (alerts fire on == 0): the worst worker decides.
_WORST = "livemin"
# Flags of trouble (alerts fire on == 1), and what the newest swap loaded: any worker decides.
_ANY = "livemax"
# Quantities of each worker: the server's is their sum.
_SUM = "livesum"
GAUGE_MODES: dict[str, str] = {
    "churnops_model_ready": _WORST,
    "churnops_inference_log_writer_running": _WORST,
    "churnops_model_last_reload_failed": _ANY,
    "churnops_experiment_not_applied": _ANY,
    "churnops_experiment_running": _ANY,
    "churnops_model_version": _ANY,  # workers differ only while they swap
    "churnops_model_features": _ANY,
    "churnops_model_loaded_timestamp_seconds": _ANY,
    "churnops_experiment_challenger_version": _ANY,
    "churnops_experiment_share_percent": _ANY,
    "churnops_inference_log_queue_depth": _SUM,
    "churnops_http_connections_open": _SUM,
    "churnops_http_connections_max": _SUM,
}
UNLISTED_GAUGE_MODE = "liveall"  # no rule: one series per worker (a `pid` label)


def metrics_folder() -> Path | None:
    """The folder this process's metrics go to, when it runs in multiprocess mode (the variable
    prometheus-client reads when it is imported)."""
    folder = os.environ.get(FOLDER_VARIABLE)
    return Path(folder) if folder else None


@contextlib.contextmanager
def shared_folder(workers: int, configured: Path | None) -> Iterator[Path | None]:
    """For several workers, the folder their metrics meet in — ``configured``, emptied of
    metric files, or else a new temporary one removed at the end — set in the environment the
    workers inherit until the block ends. One worker keeps its metrics in memory (None)."""
    if workers == 1:
        yield None
        return
    if configured is None:
        with (
            tempfile.TemporaryDirectory(prefix="churnops-metrics-") as folder,
            _exported(Path(folder)),
        ):
            yield Path(folder)
        return
    try:
        configured.mkdir(parents=True, exist_ok=True)
        for stale in configured.glob("*.db"):
            stale.unlink()
    except OSError as exc:
        raise BadInputError(
            f"cannot use {configured} for the workers' metrics (CHURNOPS_METRICS_DIR): "
            f"{exc.strerror or exc}; give a writable folder, or unset it for a temporary one"
        ) from exc
    with _exported(configured):
        yield configured


@contextlib.contextmanager
def _exported(folder: Path) -> Iterator[None]:
    """``folder`` in the environment for the block, then the environment as it was: this
    process must not point prometheus-client at a folder that is gone, or at another run's."""
    before = os.environ.get(FOLDER_VARIABLE)
    os.environ[FOLDER_VARIABLE] = str(folder.resolve())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(FOLDER_VARIABLE, None)
        else:
            os.environ[FOLDER_VARIABLE] = before


class ProcessFiles:
    """Copies the samples of ``registry`` (collectors of this process's state) to this
    process's metric files in ``folder``, where every worker's scrape reads them."""

    def __init__(self, registry: CollectorRegistry, folder: Path) -> None:
        self.registry = registry
        self.folder = folder
        self._values: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
        self._lock = threading.Lock()

    def publish(self) -> None:
        with self._lock:
            for family in self.registry.collect():
                for sample in stored_samples(family):
                    self._value(family, sample).set(sample.value)

    def before_scrape(self) -> None:
        """This worker's state as it is now; dead workers' gauges out."""
        self.publish()
        forget_dead_workers(self.folder)

    async def publish_every(self, seconds: float = PUBLISH_SECONDS) -> None:
        """Publish until cancelled (the app's lifespan runs it)."""
        while True:
            await asyncio.sleep(seconds)
            self.publish()

    def close(self) -> None:
        """The last values (counters keep counting after this process), then this process's
        gauges leave the scrapes."""
        self.publish()
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    def _value(self, family: Metric, sample: Sample) -> Any:
        labels = tuple(sample.labels.items())
        key = (sample.name, labels)
        value = self._values.get(key)
        if value is None:
            names, label_values = zip(*labels, strict=True) if labels else ((), ())
            mode = GAUGE_MODES.get(family.name, UNLISTED_GAUGE_MODE)
            value = self._values[key] = values.ValueClass(
                family.type,
                family.name,
                sample.name,
                names,
                label_values,
                family.documentation,
                multiprocess_mode=mode,
            )
        return value


def stored_samples(family: Metric) -> Iterator[Sample]:
    """The samples as the files hold them: counters and gauges as they are; a histogram's
    buckets each on its own (the scrape adds them up again) and its sum (the count is the
    last bucket's)."""
    if family.type != "histogram":
        yield from (s for s in family.samples if not s.name.endswith("_created"))
        return
    below = 0.0
    for sample in family.samples:
        if sample.name.endswith("_bucket"):
            yield sample._replace(value=sample.value - below)
            below = sample.value
        elif sample.name.endswith("_sum"):
            yield sample


def forget_dead_workers(folder: Path) -> None:
    """Remove the gauge files of workers that no longer run: killed, they could not do it."""
    for path in folder.glob("gauge_live*.db"):
        match = LIVE_GAUGE_FILE.fullmatch(path.name)
        if match is not None and not _running(int(match.group(1))):
            mark_process_dead(int(match.group(1)), str(folder))  # type: ignore[no-untyped-call]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
