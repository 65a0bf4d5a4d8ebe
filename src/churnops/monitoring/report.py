"""Writing drift reports: ``reports/drift_<timestamp>.json`` after every run, plus
``reports/drift_latest.json`` (the API's ``/metrics`` reads it) after production runs only,
and the HTML report on request."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from churnops.atomic import atomic_write_json, atomic_write_text
from churnops.monitoring.html_report import render_html

LATEST = "drift_latest.json"


def json_safe(value: Any) -> Any:
    """Strict JSON: non-finite floats become null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _stamped(folder: Path, suffix: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"drift_{stamp}{suffix}"
    counter = 1
    while path.exists():
        counter += 1
        path = folder / f"drift_{stamp}-{counter}{suffix}"
    return path


def write_json(report: dict[str, Any], reports_dir: Path, latest: bool) -> tuple[Path, Path | None]:
    """The timestamped report, then (if ``latest``) the latest copy; both written atomically.
    Returns both paths (None when the latest copy was left alone)."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = _stamped(reports_dir, ".json")
    atomic_write_json(path, report)
    if not latest:
        return path, None
    atomic_write_json(reports_dir / LATEST, report)
    return path, reports_dir / LATEST


def write_html(report: dict[str, Any], path: Path | None, reports_dir: Path) -> Path:
    """One self-contained HTML file (inline CSS and SVG): it opens offline."""
    target = path or _stamped(reports_dir, ".html")
    atomic_write_text(target, render_html(report))
    return target
