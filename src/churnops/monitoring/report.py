"""Writing drift reports: ``reports/drift_<timestamp>.json`` after every run, plus
``reports/drift_latest.json`` (the API's ``/metrics`` reads it) after production runs only,
and the HTML report on request."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from churnops.atomic import atomic_write_json, atomic_write_text
from churnops.monitoring.html_report import render_html
from churnops.monitoring.results import DriftReport

LATEST = "drift_latest.json"


def stamped_path(folder: Path, prefix: str, suffix: str) -> Path:
    """``folder/<prefix>_<UTC time><suffix>``, numbered when that name is taken."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{prefix}_{stamp}{suffix}"
    counter = 1
    while path.exists():
        counter += 1
        path = folder / f"{prefix}_{stamp}-{counter}{suffix}"
    return path


def write_json(report: DriftReport, reports_dir: Path, latest: bool) -> tuple[Path, Path | None]:
    """The timestamped report, then (if ``latest``) the latest copy; both written atomically.
    Returns both paths (None when the latest copy was left alone)."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = stamped_path(reports_dir, "drift", ".json")
    data = report.to_json()
    atomic_write_json(path, data)
    if not latest:
        return path, None
    atomic_write_json(reports_dir / LATEST, data)
    return path, reports_dir / LATEST


def write_html(
    report: DriftReport,
    path: Path | None,
    reports_dir: Path,
    descriptions: Mapping[str, str] | None = None,
) -> Path:
    """One self-contained HTML file (inline CSS and SVG): it opens offline. ``descriptions``
    (feature → what it measures) title the charts' axes."""
    target = path or stamped_path(reports_dir, "drift", ".html")
    atomic_write_text(target, render_html(report, descriptions))
    return target
