"""The performance report as one self-contained HTML page (inline CSS and SVG, no script, no
network): per version, the realised AUC over time with its interval beside the hold-out AUC,
the coverage of outcomes, and the table of every metric."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from churnops.monitoring.html_charts import LINE_COLOURS, REFERENCE_COLOUR, STATUS_COLOURS, ticks
from churnops.monitoring.html_report import CSS
from churnops.performance.results import (
    HoldOut,
    Measured,
    NotEnough,
    PerformanceReport,
    Period,
    VersionPerformance,
    period_labels,
    sources,
)

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 760, 300, 56, 740, 34, 236
BAND = "#bbdefb"
DEGRADED = STATUS_COLOURS["drift"]
LACKING = STATUS_COLOURS[None]


def _text(x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def _auc_range(version: VersionPerformance) -> tuple[float, float]:
    """The y range: every interval and the hold-out AUC, widened to round ticks."""
    values = [
        bound
        for period in version.periods
        if isinstance(period.realised, Measured)
        for bound in (period.realised.auc.lower, period.realised.auc.upper)
    ]
    if version.holdout is not None and version.holdout.roc_auc is not None:
        values.append(version.holdout.roc_auc)
    low, high = (min(values), max(values)) if values else (0.5, 1.0)
    low, high = max(0.0, low - 0.02), min(1.0, high + 0.02)
    return (low, high) if high - low >= 0.05 else (max(0.0, high - 0.05), high)


def _axes(low: float, high: float, labels: list[str], x: list[float]) -> list[str]:
    def y_of(value: float) -> float:
        return BOTTOM - (BOTTOM - TOP) * (value - low) / (high - low)

    parts = []
    for tick in ticks(low, high):
        y = y_of(tick)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{RIGHT}" y2="{y:.1f}" class="grid"/>')
        parts.append(_text(LEFT - 4, y + 3.5, f"{tick:.2f}", "end"))
    middle = (TOP + BOTTOM) / 2
    parts.append(_text(14, middle, "ROC AUC", extra=f' transform="rotate(-90 14 {middle:.1f})"'))
    step = max(1, len(labels) // 12)  # at most a dozen dates under the axis
    for index in range(0, len(labels), step):
        parts.append(_text(x[index], BOTTOM + 16, labels[index]))
    parts.append(_text((LEFT + RIGHT) / 2, HEIGHT - 8, "period start (UTC), by prediction time"))
    return parts


def _x_positions(count: int) -> list[float]:
    if count == 1:
        return [(LEFT + RIGHT) / 2]
    span = (RIGHT - LEFT - 40) / (count - 1)
    return [LEFT + 20 + span * i for i in range(count)]


def auc_chart(version: VersionPerformance) -> str:
    """Realised AUC per period (points, red when degraded) in its interval (band and whiskers),
    the hold-out AUC as a dashed line; periods with too few outcomes as grey marks at the axis."""
    periods = version.periods
    low, high = _auc_range(version)

    def y_of(value: float) -> float:
        return BOTTOM - (BOTTOM - TOP) * (value - low) / (high - low)

    x = _x_positions(len(periods))
    parts = _axes(low, high, period_labels(periods), x)
    measured = [(xi, p.realised) for xi, p in zip(x, periods, strict=True)]
    shown = [(xi, r) for xi, r in measured if isinstance(r, Measured)]
    if len(shown) > 1:
        upper = " ".join(f"{xi:.1f},{y_of(r.auc.upper):.1f}" for xi, r in shown)
        lower = " ".join(f"{xi:.1f},{y_of(r.auc.lower):.1f}" for xi, r in reversed(shown))
        parts.append(f'<polygon points="{upper} {lower}" fill="{BAND}" opacity="0.6"/>')
        line = " ".join(f"{xi:.1f},{y_of(r.auc.auc):.1f}" for xi, r in shown)
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{LINE_COLOURS[0]}" stroke-width="1.6"/>'
        )
    holdout = version.holdout.roc_auc if version.holdout else None
    if holdout is not None:
        y = y_of(holdout)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{RIGHT}" y2="{y:.1f}" stroke="{REFERENCE_COLOUR}" '
            'stroke-width="1.4" stroke-dasharray="6 4"/>'
        )
    for xi, period in zip(x, periods, strict=True):
        parts.append(_point(xi, period, y_of))
    parts.append(_legend(holdout is not None))
    return f'<svg width="{WIDTH}" height="{HEIGHT}" role="img">{"".join(parts)}</svg>'


def _point(x: float, period: Period, y_of: Callable[[float], float]) -> str:
    result = period.realised
    if isinstance(result, NotEnough):
        return (
            f'<rect x="{x - 4:.1f}" y="{BOTTOM - 10}" width="8" height="8" fill="{LACKING}">'
            f"<title>{escape(period.start)}: {escape(result.reason)}</title></rect>"
        )
    auc = result.auc
    colour = DEGRADED if period.degraded else LINE_COLOURS[0]
    top, bottom, centre = y_of(auc.upper), y_of(auc.lower), y_of(auc.auc)
    tip = (
        f"{period.start}: AUC {auc.auc:.3f} ({auc.lower:.3f}–{auc.upper:.3f}), "
        f"{result.outcomes:,} outcomes"
    )
    return (
        f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="{colour}"/>'
        f'<circle cx="{x:.1f}" cy="{centre:.1f}" r="4" fill="{colour}"><title>{escape(tip)}'
        "</title></circle>"
    )


def _legend(with_holdout: bool) -> str:
    items = [
        (LINE_COLOURS[0], "realised AUC and its interval"),
        (DEGRADED, "degraded"),
        (LACKING, "not enough outcomes yet"),
    ]
    if with_holdout:
        items.append((REFERENCE_COLOUR, "hold-out AUC at training (dashed)"))
    parts, x = [], float(LEFT)
    for colour, label in items:
        parts.append(f'<rect x="{x:.1f}" y="{TOP - 22}" width="11" height="11" fill="{colour}"/>')
        parts.append(_text(x + 15, TOP - 12, label, "start"))
        x += 30 + 6.6 * len(label)
    return "".join(parts)


def _cells(result: Measured | NotEnough) -> str:
    if isinstance(result, NotEnough):
        return f'<td colspan="6" class="why">{escape(result.reason)}</td>'
    auc = result.auc
    values = (
        f"{auc.auc:.3f}",
        f"{auc.lower:.3f}–{auc.upper:.3f}",
        f"{result.precision:.3f}",
        f"{result.recall:.3f}",
        f"{result.f1:.3f}",
        f"{result.brier:.4f}",
    )
    return "".join(f"<td>{v}</td>" for v in values)


def _holdout_row(holdout: HoldOut) -> str:
    auc = "-" if holdout.roc_auc is None else f"{holdout.roc_auc:.3f}"
    brier = "-" if holdout.brier is None else f"{holdout.brier:.4f}"
    return (
        f"<tr><th>hold-out at training</th><td>{holdout.rows:,}</td><td></td><td>{auc}</td>"
        f"<td></td><td>{holdout.precision:.3f}</td><td>{holdout.recall:.3f}</td>"
        f"<td>{holdout.f1:.3f}</td><td>{brier}</td></tr>"
    )


def _table(version: VersionPerformance) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "period",
            "predictions",
            "coverage",
            "ROC AUC",
            "interval",
            "precision",
            "recall",
            "F1",
            "Brier",
        )
    )
    rows = []
    for period in version.periods:
        mark = ' style="color:#c62828"' if period.degraded else ""
        rows.append(
            f"<tr{mark}><td>{escape(period.start)} – {escape(period.end)}</td>"
            f"<td>{period.predictions:,}</td><td>{period.coverage:.1%}</td>"
            f"{_cells(period.realised)}</tr>"
        )
    rows.append(
        f"<tr><th>whole window</th><td>{version.predictions:,}</td><td>{version.coverage:.1%}</td>"
        f"{_cells(version.realised)}</tr>"
    )
    if version.holdout is not None:
        rows.append(_holdout_row(version.holdout))
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _status(version: VersionPerformance) -> tuple[str, str]:
    """The badge's colour and words."""
    if version.degraded:
        return DEGRADED, "degraded"
    if version.degraded is False:
        return STATUS_COLOURS["ok"], "in line with its hold-out"
    if isinstance(version.realised, NotEnough):
        return LACKING, "not enough outcomes yet"
    return LACKING, "no hold-out AUC to compare with"


def _version(version: VersionPerformance) -> str:
    name = "Every version" if version.model_version is None else f"Model v{version.model_version}"
    badge = f'<span class="badge" style="background:{_status(version)[0]}">'
    badge += f"{escape(_status(version)[1])}</span>"
    finding = f'<p class="next">{escape(version.finding)}</p>' if version.finding else ""
    return (
        f"<h2>{name} {badge}</h2>"
        f'<p class="muted">{version.predictions:,} predictions{escape(sources(version))}, '
        f"{version.labelled:,} with an outcome ({version.coverage:.1%})</p>{finding}"
        f'<div class="card">{auc_chart(version)}</div>{_table(version)}'
    )


def _batch_files(report: PerformanceReport) -> str:
    return f" · batch scores {', '.join(report.scores)}" if report.scores else ""


def render_performance_html(report: PerformanceReport) -> str:
    verdict = "Degraded" if report.degraded else "No degradation"
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>churnops performance report {escape(report.generated_at)}</title>"
        f"<style>{CSS}</style></head><body>"
        f'<h1>Realised performance <span class="badge" style="background:'
        f'{DEGRADED if report.degraded else STATUS_COLOURS["ok"]}">{verdict}</span></h1>'
        f'<p class="muted">generated {escape(report.generated_at)} · inference log '
        f"{escape(report.inference_log)}{escape(_batch_files(report))} · "
        f"{escape(report.window)}</p>"
        f'<details class="rule"><summary>How it is measured</summary><p>{escape(report.rule)}'
        f"</p><p>Outcomes join predictions this way: {escape(report.join_rule)}.</p></details>"
        + "".join(_version(v) for v in report.versions)
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + "</body></html>\n"
    )
