"""Prometheus metrics of the API, on its own ``CollectorRegistry``.

The request path only touches cheap objects (cached label children, a numpy-backed histogram
of probabilities that takes a whole batch in one call); everything that describes state —
the model serving, reloads, the log writer, the drift report — is read when ``/metrics`` is
scraped, by custom collectors, so none of it costs a request anything.

One process (``churnops serve``, ``--workers 1``, ``uvicorn churnops.api:app``, the app in
tests) keeps everything in memory and exposes it as described. Several workers (``churnops
serve --workers N``, which sets ``PROMETHEUS_MULTIPROC_DIR``) run prometheus-client's
multiprocess mode (see :mod:`churnops.serving.worker_metrics`): one scrape shows the whole
server under the same names. Counters and histograms are summed over the workers. Each gauge
is combined by a rule: health flags (``churnops_model_ready``,
``churnops_inference_log_writer_running``) take the lowest worker's value, so an alert on 0
fires when any worker lacks a model or a log writer; trouble flags and what was loaded
(``churnops_model_last_reload_failed``, ``churnops_experiment_not_applied``,
``churnops_experiment_running``, the model version, its feature count and load time, the
challenger version and share) take the highest, so any worker's trouble shows and the version
is the newest any worker serves (they differ only while they swap); per-worker quantities (log
queue depth, open connections, the connection cap) are summed. Only live workers' gauges count.
The drift and performance gauges are read from their report files by the worker answering.
``process_*`` and ``python_gc_*`` are not exposed then: each would describe only the worker
that answered (prometheus-client's custom collectors do not work across processes); watch the
container's CPU and memory instead.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.process_collector import ProcessCollector

from churnops.monitoring.results import DriftReport
from churnops.performance.results import LATEST as PERFORMANCE_LATEST
from churnops.serving.connections import ConnectionGuard
from churnops.serving.inference_log import InferenceLogWriter
from churnops.serving.performance_metrics import performance_families
from churnops.serving.predictor import Predictor
from churnops.serving.routing import Route
from churnops.serving.security import AdminGuard
from churnops.serving.worker_metrics import ProcessFiles

logger = logging.getLogger("churnops.serving")

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip
PROBABILITY_EDGES = tuple(round(0.05 * i, 2) for i in range(1, 21))
DRIFT_STATUS = {"ok": 0, "warning": 1, "drift": 2}


class ProbabilityHistogram:
    """``churnops_prediction_probability``: bucket counts in numpy, so a 10,000-row batch is
    one ``searchsorted`` instead of 10,000 ``observe`` calls."""

    name = "churnops_prediction_probability"

    def __init__(self, edges: tuple[float, ...] = PROBABILITY_EDGES) -> None:
        self.edges = edges
        self._edges = np.asarray(edges)
        self._counts = np.zeros(len(edges) + 1, dtype=np.int64)  # last: above every edge
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe_one(self, value: float) -> None:
        index = bisect.bisect_left(self.edges, value)
        with self._lock:
            self._counts[index] += 1
            self._sum += value

    def observe_many(self, values: np.ndarray) -> None:
        indexes = np.searchsorted(self._edges, values, side="left")
        counts = np.bincount(indexes, minlength=len(self._counts))
        total = float(values.sum())
        with self._lock:
            self._counts += counts
            self._sum += total

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            cumulative = np.cumsum(self._counts).tolist()
            total = self._sum
        below = zip(self.edges, cumulative, strict=False)  # the last count is above every edge
        buckets = [(repr(edge), float(count)) for edge, count in below]
        buckets.append(("+Inf", float(cumulative[-1])))
        yield HistogramMetricFamily(
            self.name, "Predicted churn probabilities", buckets=buckets, sum_value=total
        )


class ServingStateCollector:
    """Model and inference-log state, read at scrape time."""

    def __init__(self, predictor: Predictor, log: InferenceLogWriter | None) -> None:
        self.predictor = predictor
        self.log = log

    def collect(self) -> Iterator[Metric]:
        predictor = self.predictor
        current = predictor.current
        yield GaugeMetricFamily(
            "churnops_model_ready", "1 while a verified model is serving", value=int(bool(current))
        )
        yield GaugeMetricFamily(
            "churnops_model_version",
            "Version of the model serving (-1 when none)",
            value=current.version if current else -1,
        )
        if current is not None:
            yield GaugeMetricFamily(
                "churnops_model_features",
                "Features the serving model takes (its feature schema's; a swap may change it)",
                value=len(current.inputs.schema.feature_names),
            )
            yield GaugeMetricFamily(
                "churnops_model_loaded_timestamp_seconds",
                "When the serving model was loaded (epoch seconds)",
                value=current.loaded_at_epoch,
            )
        yield CounterMetricFamily(
            "churnops_model_reloads", "Models verified and swapped in", value=predictor.reloads
        )
        yield CounterMetricFamily(
            "churnops_model_reload_failures",
            "Models refused by verification (the previous one kept serving)",
            value=predictor.reload_failures,
        )
        yield GaugeMetricFamily(
            "churnops_model_last_reload_failed",
            "1 when the last reload attempt failed (see /model-info)",
            value=int(predictor.last_reload_error is not None),
        )
        yield from experiment_families(predictor)
        log = self.log
        if log is not None:
            yield CounterMetricFamily(
                "churnops_shadow_scores",
                "Rows the challenger scored in shadow (logged beside the champion's answer)",
                value=log.shadow_scored,
            )
            yield CounterMetricFamily(
                "churnops_shadow_score_failures",
                "Rows whose shadow score failed (logged without it)",
                value=log.shadow_failed,
            )
            yield CounterMetricFamily(
                "churnops_inference_log_rows_written",
                "Rows committed to the inference log",
                value=log.written,
            )
            yield CounterMetricFamily(
                "churnops_inference_log_rows_dropped",
                "Rows not logged because the queue was full (or closed)",
                value=log.dropped,
            )
            yield CounterMetricFamily(
                "churnops_inference_log_rows_failed",
                "Rows the database did not take (bad value, disk error, stop deadline)",
                value=log.failed,
            )
            yield GaugeMetricFamily(
                "churnops_inference_log_queue_depth",
                "Rows waiting to be written",
                value=log.pending,
            )
            yield GaugeMetricFamily(
                "churnops_inference_log_writer_running",
                "1 while the inference-log writer thread runs",
                value=int(log.running),
            )


def experiment_families(predictor: Predictor) -> Iterator[Metric]:
    """The experiment this process applies, and whether the registry's could not be."""
    serving = predictor.serving
    running = serving.experiment if serving is not None else None
    yield GaugeMetricFamily(
        "churnops_experiment_running",
        "1 while this process routes an experiment (A/B or shadow)",
        value=int(running is not None),
    )
    yield GaugeMetricFamily(
        "churnops_experiment_not_applied",
        "1 when the registry runs an experiment this process could not apply (its challenger "
        "failed verification: the champion answers every request; see /model-info)",
        value=int(predictor.experiment_error is not None),
    )
    yield CounterMetricFamily(
        "churnops_experiment_challenger_failures",
        "Challengers this process refused (verification failed): experiments not applied",
        value=predictor.experiment_failures,
    )
    if running is not None:
        experiment = running.experiment
        yield GaugeMetricFamily(
            "churnops_experiment_challenger_version",
            "Version of the challenger of the running experiment",
            value=experiment.challenger,
        )
        if experiment.share is not None:
            yield GaugeMetricFamily(
                "churnops_experiment_share_percent",
                "A/B: percent of customers the challenger answers",
                value=experiment.share,
            )


class ProtectionCollector:
    """Connections closed for being slow or over the cap, and wrong admin tokens."""

    def __init__(self, connections: ConnectionGuard, admin: AdminGuard) -> None:
        self.connections = connections
        self.admin = admin

    def collect(self) -> Iterator[Metric]:
        guard = self.connections
        yield GaugeMetricFamily(
            "churnops_http_connections_open", "Open HTTP connections", value=guard.open
        )
        yield GaugeMetricFamily(
            "churnops_http_connections_max",
            "Most open HTTP connections (CHURNOPS_MAX_CONNECTIONS, lowered to the files limit)",
            value=guard.max_connections,
        )
        closed = CounterMetricFamily(
            "churnops_http_connections_closed",
            "Connections the server closed: request too slow (header_timeout, body_timeout), "
            "dropped for a new one at the cap (evicted), new one refused at the cap (refused)",
            labels=["reason"],
        )
        for reason, count in guard.closed.items():
            closed.add_metric([reason], count)
        yield closed
        yield CounterMetricFamily(
            "churnops_admin_auth_failures",
            "Admin requests with a missing or wrong token",
            value=self.admin.failures,
        )


class ReportCollector:
    """Gauges from a report file the CLI writes (``reports/*_latest.json``), re-read only when
    it changes; ``families`` turns its bytes into metrics."""

    def __init__(self, path: Path, families: Callable[[bytes], list[Metric]]) -> None:
        self.path = path
        self.families = families
        self._stamp: int | None = None
        self._families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        try:
            stamp = self.path.stat().st_mtime_ns
        except OSError:  # no run yet: no gauges
            self._stamp, self._families = None, []
            return iter(())
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._families = self.families(self.path.read_bytes())
            except (OSError, ValueError) as exc:  # unreadable, not JSON, or not such a report
                logger.warning("ignoring unreadable report %s: %s", self.path, exc)
                self._families = []
        return iter(self._families)


def drift_collector(path: Path) -> ReportCollector:
    """Gauges from the drift monitor's ``drift_latest.json``."""
    return ReportCollector(path, lambda data: drift_families(DriftReport.from_json(data)))


def drift_families(report: DriftReport) -> list[Metric]:
    when = datetime.fromisoformat(report.generated_at.replace("Z", "+00:00"))
    families: list[Metric] = [
        GaugeMetricFamily(
            "churnops_drift_detected",
            "1 when the last drift run decided the inputs drifted",
            value=int(report.drift_detected),
        ),
        GaugeMetricFamily(
            "churnops_drift_score", "Drift score of the last run", value=report.drift_score
        ),
        GaugeMetricFamily(
            "churnops_drift_report_timestamp_seconds",
            "When the last drift report was generated (epoch seconds)",
            value=when.timestamp(),
        ),
    ]
    psi = GaugeMetricFamily(
        "churnops_feature_psi", "Population stability index per feature", labels=["feature"]
    )
    status = GaugeMetricFamily(
        "churnops_feature_drift_status",
        "Per-feature drift status: 0 ok, 1 warning, 2 drift",
        labels=["feature"],
    )
    for name, feature in report.features.items():
        if feature.psi is not None:
            psi.add_metric([name], feature.psi)
        if feature.status in DRIFT_STATUS:
            status.add_metric([name], DRIFT_STATUS[feature.status])
    return [*families, psi, status]


class ServingMetrics:
    """Every collector of one app, and the request-path handles to them.

    ``registry`` holds this process's own state (a route module may add a collector to it).
    With ``worker_files`` (the multiprocess folder) the request-path metrics live in the files,
    ``registry`` is copied there, and a scrape reads every worker's files."""

    def __init__(
        self,
        predictor: Predictor,
        log: InferenceLogWriter | None,
        drift_report: Path,
        protection: ProtectionCollector | None = None,
        worker_files: Path | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        in_memory = self.registry if worker_files is None else None  # else: in the files
        labels = ("method", "endpoint", "status")
        self.requests = Counter(
            "churnops_http_requests", "HTTP requests", labels, registry=in_memory
        )
        self.latency = Histogram(
            "churnops_http_request_duration_seconds",
            "Time to answer, from the first byte received to the response handed to the server",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=in_memory,
        )
        self.predictions = Counter(
            "churnops_predictions",
            "Rows scored, per model version",
            ("model_version",),
            registry=in_memory,
        )
        self.experiment_predictions = Counter(
            "churnops_experiment_predictions",
            "Rows answered during an experiment, per experiment, variant (champion or "
            "challenger) and model version",
            ("experiment_id", "variant", "model_version"),
            registry=in_memory,
        )
        self.probabilities = ProbabilityHistogram()
        self.registry.register(self.probabilities)
        self.registry.register(ServingStateCollector(predictor, log))
        if protection is not None:
            self.registry.register(protection)
        self.files = None if worker_files is None else ProcessFiles(self.registry, worker_files)
        self._exposed = self._scraped(drift_report, worker_files)
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._prediction_children: dict[int, Any] = {}
        self._route_children: dict[tuple[str, str, str], Any] = {}

    def _scraped(self, drift_report: Path, worker_files: Path | None) -> CollectorRegistry:
        """What a scrape reads: this process's registry, the report gauges and the process
        metrics; with several workers, every worker's files and the report gauges."""
        exposed = self.registry if worker_files is None else CollectorRegistry()
        exposed.register(drift_collector(drift_report))
        exposed.register(
            ReportCollector(drift_report.with_name(PERFORMANCE_LATEST), performance_families)
        )
        if worker_files is None:
            ProcessCollector(registry=exposed)
            GCCollector(registry=exposed)
        else:
            MultiProcessCollector(exposed, str(worker_files))  # type: ignore[no-untyped-call]
        return exposed

    def observe_request(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        key = (method, endpoint, status)
        children = self._request_children.get(key)
        if children is None:
            labels = (method, endpoint, str(status))
            children = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_predictions(self, version: int, rows: int, route: Route | None = None) -> None:
        child = self._prediction_children.get(version)
        if child is None:
            child = self._prediction_children[version] = self.predictions.labels(str(version))
        child.inc(rows)
        if route is not None:
            labels = route.counted
            child = self._route_children.get(labels)
            if child is None:
                child = self._route_children[labels] = self.experiment_predictions.labels(*labels)
            child.inc(rows)

    def exposition(self) -> bytes:
        if self.files is not None:
            self.files.before_scrape()
        return bytes(generate_latest(self._exposed))

    async def publish_while_serving(self) -> None:
        """With several workers, copy this process's state to its files every second until
        cancelled; with one, nothing to do."""
        if self.files is not None:
            await self.files.publish_every()

    def close(self) -> None:
        """With several workers: the last values, then this worker's gauges leave the scrapes."""
        if self.files is not None:
            self.files.close()
