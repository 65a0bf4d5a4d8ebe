"""The performance stage as one plain function: log + outcomes → typed report, files written.

The predictions are the inference log's and, with ``scores``, the batch-scored ones in
``churnops score`` outputs (a row: a prediction of its version at ``scored_at``), both
labelled by the outcome store's one join rule.

Writes ``reports/performance_<timestamp>.json`` and ``reports/performance_latest.json`` (the
API's gauges read the latest), and the HTML page on request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from sklearn.metrics import brier_score_loss

from churnops import logstore
from churnops.atomic import atomic_write_json, atomic_write_text
from churnops.errors import BadInputError
from churnops.monitoring.report import stamped_path
from churnops.monitoring.window import ChunkSpec, parse_chunk, parse_window
from churnops.outcomes.store import describe_join, open_outcome_store
from churnops.performance.build import Measuring, Version, version_performance
from churnops.performance.html import render_performance_html
from churnops.performance.measure import describe_rule
from churnops.performance.results import (
    LATEST,
    HoldOut,
    PerformanceReport,
    PerformanceSettings,
    VersionPerformance,
)
from churnops.registry.entries import ModelVersion, RegistryFile, utc_now
from churnops.registry.store import Registry, open_registry
from churnops.schema import FeatureSchema
from churnops.settings import Settings
from churnops.statistics.defaults import DEFAULT_LEVEL

FIELDS = ("ts", "model_version", "probability")
Grouping = Literal["version", "all"]


@dataclass(frozen=True)
class PerformanceOptions:
    since: str | None = None
    until: str | None = None
    last: str | None = None
    by: Grouping = "version"
    html: bool = False
    html_path: Path | None = None
    scores: tuple[Path, ...] = ()  # batch score files (``churnops score`` outputs)
    chunk_option: str = "--chunk"  # what set the periods (or CHURNOPS_PERFORMANCE_CHUNK)


@dataclass(frozen=True)
class PerformanceRun:
    report: PerformanceReport
    json_path: Path
    latest_path: Path
    html_path: Path | None


def holdout_metrics(registry: Registry, entry: ModelVersion) -> HoldOut:
    """The hold-out metrics recorded at training, and the Brier score of the kept hold-out
    predictions (``versions/vN/holdout.parquet``) when they are there."""
    metrics = entry.metrics
    path = registry.version_dir(entry.version) / "holdout.parquet"
    brier = None
    if path.exists():
        label = FeatureSchema.model_validate(entry.feature_schema).label
        holdout = pd.read_parquet(path, columns=[label, "prediction"])
        brier = float(brier_score_loss(holdout[label], holdout["prediction"]))
    return HoldOut(
        roc_auc=metrics["roc_auc"],
        precision=metrics["precision"],
        recall=metrics["recall"],
        f1=metrics["f1"],
        brier=brier,
        rows=metrics["rows"],
    )


def _read(settings: Settings, options: PerformanceOptions) -> tuple[pd.DataFrame, str]:
    window = parse_window(options.since, options.until, options.last, time.time(), last_rows=False)
    scored = pd.DataFrame()  # none, but the rows still say they were logged (``BATCH``)
    if options.scores:  # the reader's modules, only when score files are read
        from churnops.scoring.scored import read_scores

        scored = read_scores(options.scores, window.since, window.until)
    else:
        otherwise = ", or measure batch-scored customers with --scores FILE"
        logstore.require(settings.log_location, otherwise)
    store = open_outcome_store(settings.log_location, settings.outcome_window_days)
    frame = store.predictions(FIELDS, window.since, window.until, scored=scored)
    if frame.empty:
        what = "logged or batch-scored (--scores)" if options.scores else "logged"
        raise BadInputError(
            f"no prediction was {what} in this window ({window.describe()}) in "
            f"{settings.log_location}; widen --since / --last, or check --home"
        )
    return frame.sort_values("ts", kind="stable"), window.describe()


def _groups(
    frame: pd.DataFrame, state: RegistryFile, registry: Registry, by: Grouping, notes: list[str]
) -> list[tuple[pd.DataFrame, Version]]:
    entries = {}
    for number in sorted(frame["model_version"].unique()):
        entry = state.get(int(number))
        if entry is None:
            notes.append(f"v{number} served predictions but is not in the registry: left out")
        else:
            entries[int(number)] = entry
    if not entries:
        raise BadInputError(
            "none of the versions that served these predictions is in the registry; check --home"
        )
    kept = frame[frame["model_version"].isin(list(entries))]
    if by == "all":
        thresholds = {entry.threshold for entry in entries.values()}
        if len(thresholds) > 1:
            raise BadInputError(
                "the versions decide at different thresholds, so their precision and recall "
                "cannot be pooled; use --by version"
            )
        return [(kept, Version(None, thresholds.pop(), None))]
    return [
        (
            kept[kept["model_version"] == number],
            Version(number, entry.threshold, holdout_metrics(registry, entry)),
        )
        for number, entry in entries.items()
    ]


def _chunk(settings: Settings, option: str) -> ChunkSpec:
    """The periods (set by ``option``); a count of predictions too small to ever hold the
    minimum outcomes of both classes is refused rather than give periods that can never show
    a number."""
    chunk = parse_chunk(settings.performance_chunk, option)
    least = settings.performance_min_per_class
    if chunk.kind == "rows" and chunk.size < 2 * least:
        raise BadInputError(
            f"{option} {int(chunk.size):,} is too small: a period needs at least {least} churned "
            f"and {least} retained outcomes for a number; use --chunk {2 * least} or more "
            "(predictions), or a period such as 1d or 1w"
        )
    return chunk


def build_performance(settings: Settings, options: PerformanceOptions) -> PerformanceReport:
    how = Measuring(
        level=DEFAULT_LEVEL,
        min_per_class=settings.performance_min_per_class,
        max_auc_drop=settings.performance_max_auc_drop,
        chunk=_chunk(settings, options.chunk_option),
    )
    frame, window = _read(settings, options)
    registry = open_registry(settings)
    notes: list[str] = []
    versions: list[VersionPerformance] = [
        version_performance(part, version, how)
        for part, version in _groups(frame, registry.read(), registry, options.by, notes)
    ]
    if frame["outcome_id"].isna().all():
        notes.append(
            "no outcome has arrived for these predictions yet: import them with `churnops "
            "labels import FILE` (--scores for batch-scored customers) or send them to "
            "POST /feedback"
        )
    return PerformanceReport(
        generated_at=utc_now(),
        degraded=any(v.degraded for v in versions),
        window=window,
        inference_log=str(settings.log_location),
        join_rule=describe_join(settings.outcome_window_days),
        rule=describe_rule(how.level, how.max_auc_drop, how.min_per_class),
        settings=PerformanceSettings(
            min_per_class=how.min_per_class,
            max_auc_drop=how.max_auc_drop,
            level=how.level,
            chunk=settings.performance_chunk,
            outcome_window_days=settings.outcome_window_days,
        ),
        versions=versions,
        notes=notes,
        scores=[str(path) for path in options.scores],
    )


def run_performance(settings: Settings, options: PerformanceOptions) -> PerformanceRun:
    """Measure, then write the timestamped and latest JSON reports (and the HTML page)."""
    report = build_performance(settings, options)
    folder = settings.reports_dir
    folder.mkdir(parents=True, exist_ok=True)
    json_path = stamped_path(folder, "performance", ".json")
    atomic_write_json(json_path, report.to_json())
    atomic_write_json(folder / LATEST, report.to_json())
    html_path = None
    if options.html or options.html_path:
        html_path = options.html_path or stamped_path(folder, "performance", ".html")
        atomic_write_text(html_path, render_performance_html(report))
    return PerformanceRun(report, json_path, folder / LATEST, html_path)
