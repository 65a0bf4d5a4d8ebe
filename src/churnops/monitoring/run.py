"""The drift stage as one plain function: inputs → typed report, files written, alert posted."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from churnops.errors import BadInputError
from churnops.monitoring.alert import AlertResult, check_webhook, post_alert, summary
from churnops.monitoring.drift import build_report, file_group, log_groups
from churnops.monitoring.reference import (
    Reference,
    csv_reference,
    current_csv,
    version_reference,
)
from churnops.monitoring.report import write_html, write_json
from churnops.monitoring.results import DriftReport, Source
from churnops.monitoring.rule import Thresholds
from churnops.monitoring.window import parse_chunk, parse_window
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema
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


@dataclass
class DriftRun:
    report: DriftReport
    json_path: Path
    html_path: Path | None
    alert: AlertResult | None
    latest_path: Path | None = None  # drift_latest.json, which the API's gauges read


def _current_version(settings: Settings) -> int:
    state = Registry(settings).read()
    if state.current_version is None:
        raise BadInputError(
            "no model version is current, so there is no reference; train one or pass "
            "--reference FILE / --version N"
        )
    return state.current_version


def _descriptions(schema: FeatureSchema) -> dict[str, str]:
    """What each feature measures, as the schema describes it (for the charts' axes)."""
    described = {f.name: f.description for f in schema.numeric}
    described.update({f.name: f.description for f in schema.categorical})
    return {name: text for name, text in described.items() if text}


def run_drift(settings: Settings, options: DriftOptions) -> DriftRun:
    """Judge the inference log (or ``--current`` file) and write the reports.

    Only a log run against the registry's own references updates ``drift_latest.json``: an
    ad-hoc file or a hand-picked reference must not move the production API's gauges.
    """
    if options.alert_webhook is not None:
        check_webhook(options.alert_webhook)
    schema = DEFAULT_SCHEMA
    thresholds = Thresholds.from_settings(settings)
    chunks = parse_chunk(settings.drift_chunk)
    notes: list[str] = []
    reference: Reference | None = None
    if options.reference is not None:
        reference = csv_reference(options.reference, schema)
    if options.current is not None:
        if any((options.since, options.until, options.last)):
            raise BadInputError("--since/--until/--last select log rows; drop them with --current")
        current = current_csv(options.current, schema)
        if reference is None:
            version = options.version or _current_version(settings)
            reference = version_reference(Registry(settings), version, schema)
        for name, count in current.invalid.items():
            if count:
                notes.append(f"{name}: {count} value(s) were not finite numbers; counted missing")
        groups = [file_group(current, reference)]
        source = Source(kind="file", path=str(options.current))
    else:
        window = parse_window(options.since, options.until, options.last, time.time())
        groups = log_groups(settings, window, options.version, reference, notes, schema)
        source = Source(
            kind="inference log",
            path=str(settings.inference_db),
            window=window.describe(),
            rows=sum(g.rows for g in groups),
        )
    if reference is not None and reference.version is None:
        source = source.model_copy(update={"reference": reference.label})
    report = build_report(
        groups, thresholds, chunks, settings.drift_psi_bins, source, notes, schema
    )
    production = options.current is None and options.reference is None
    json_path, latest_path = write_json(report, settings.reports_dir, latest=production)
    html_path = (
        write_html(report, options.html_path, settings.reports_dir, _descriptions(schema))
        if options.html or options.html_path
        else None
    )
    alert = None
    if options.alert_webhook and report.drift_detected:
        alert = post_alert(options.alert_webhook, summary(report, str(json_path)))
    return DriftRun(report, json_path, html_path, alert, latest_path)
