"""The drift stage as one plain function: inputs → typed report, files written, alert posted.

Which feature schema reads and judges the data: in a log run, each model version's own stored
schema (its rows were validated and logged under it, and its reference written with it, even
if the project file has changed since); for a ``--current`` file, the schema of the version
whose reference it is compared with (``--version``, else the current one). Only a file judged
against a ``--reference`` file involves no version: then the project file's schema
(``--schema`` / ``CHURNOPS_SCHEMA`` / ``churnops.yaml``, else the built-in one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from churnops.errors import BadInputError
from churnops.monitoring.alert import AlertResult, check_webhook, post_alert, summary
from churnops.monitoring.drift import Group, build_report, file_group, log_groups
from churnops.monitoring.reference import (
    VersionReferences,
    csv_reference,
    current_csv,
    version_reference,
)
from churnops.monitoring.report import write_html, write_json
from churnops.monitoring.results import DriftReport, Source
from churnops.monitoring.rule import Thresholds
from churnops.monitoring.window import parse_chunk, parse_window
from churnops.registry.store import open_registry
from churnops.schema import FeatureSchema
from churnops.settings import Settings


@dataclass(frozen=True)
class DriftOptions:
    since: str | None = None
    until: str | None = None
    last: str | None = None
    current: Path | None = None
    reference: Path | None = None
    version: int | None = None
    html: bool = False
    html_path: Path | None = None
    alert_webhook: str | None = None
    chunk_option: str = "--chunk"  # what set the chunks (or CHURNOPS_DRIFT_CHUNK), for messages


@dataclass
class DriftRun:
    report: DriftReport
    json_path: Path
    html_path: Path | None
    alert: AlertResult | None
    latest_path: Path | None = None  # drift_latest.json, which the API's gauges read


def _current_version(settings: Settings) -> int:
    state = open_registry(settings).read()
    if state.current_version is None:
        raise BadInputError(
            "no model version is current, so there is no reference; train one or pass "
            "--reference FILE / --version N"
        )
    return state.current_version


def _project_schema(settings: Settings) -> FeatureSchema:
    """The project file's schema, or the built-in one: for data no model version judges."""
    from churnops.workflow import project_schema  # here: it imports training (0.5 s)

    return project_schema(settings)


def _descriptions(schemas: list[FeatureSchema]) -> dict[str, str]:
    """What each feature measures, as the schemas describe it (for the charts' axes)."""
    described: dict[str, str] = {}
    for schema in schemas:
        pairs = [(f.name, f.description) for f in schema.numeric]
        pairs += [(f.name, f.description) for f in schema.categorical]
        for name, text in pairs:
            if text:
                described.setdefault(name, text)
    return described


def _file_groups(
    settings: Settings, options: DriftOptions, current: Path, notes: list[str]
) -> tuple[list[Group], Source]:
    """A ``--current`` file against a version's reference (under its schema), or against a
    ``--reference`` file (under the project's schema)."""
    if any((options.since, options.until, options.last)):
        raise BadInputError("--since/--until/--last select log rows; drop them with --current")
    if options.reference is not None:
        reference = csv_reference(options.reference, _project_schema(settings))
    else:
        version = options.version or _current_version(settings)
        reference = version_reference(open_registry(settings), version)
    read = current_csv(current, reference.schema)
    if read.by_source:
        notes.append(
            f"{current} was read by the CSV column names the schema declares (as prepare "
            "reads an export)"
        )
    for name, count in read.invalid.items():
        if count:
            notes.append(f"{name}: {count} value(s) were not finite numbers; counted missing")
    source = Source(kind="file", path=str(current))
    return [file_group(read, reference)], source


def _log_groups(
    settings: Settings, options: DriftOptions, notes: list[str]
) -> tuple[list[Group], Source]:
    """The log window, one group per serving version, each read and judged by its schema."""
    window = parse_window(options.since, options.until, options.last, time.time())
    references = VersionReferences(
        open_registry(settings), options.reference, partial(_project_schema, settings)
    )
    groups = log_groups(settings.log_location, window, options.version, references, notes)
    source = Source(
        kind="inference log",
        path=str(settings.log_location),
        window=window.describe(),
        rows=sum(g.rows for g in groups),
    )
    return groups, source


def run_drift(settings: Settings, options: DriftOptions) -> DriftRun:
    """Judge the inference log (or ``--current`` file) and write the reports.

    Only a log run against the registry's own references updates ``drift_latest.json``: an
    ad-hoc file or a hand-picked reference must not move the production API's gauges.
    """
    if options.alert_webhook is not None:
        check_webhook(options.alert_webhook)
    thresholds = Thresholds.from_settings(settings)
    chunks = parse_chunk(settings.drift_chunk, options.chunk_option)
    notes: list[str] = []
    if options.current is not None:
        groups, source = _file_groups(settings, options, options.current, notes)
    else:
        groups, source = _log_groups(settings, options, notes)
    if options.reference is not None:
        source = source.model_copy(update={"reference": str(options.reference)})
    report = build_report(groups, thresholds, chunks, settings.drift_psi_bins, source, notes)
    production = options.current is None and options.reference is None
    json_path, latest_path = write_json(report, settings.reports_dir, latest=production)
    schemas = [group.reference.schema for group in groups]
    html_path = (
        write_html(report, options.html_path, settings.reports_dir, _descriptions(schemas))
        if options.html or options.html_path
        else None
    )
    alert = None
    if options.alert_webhook and report.drift_detected:
        alert = post_alert(options.alert_webhook, summary(report, str(json_path)))
    return DriftRun(report, json_path, html_path, alert, latest_path)
