"""The drift report as one self-contained HTML page: inline CSS and SVG, no script, no network.

Per model version: the verdict table, each feature's reference and current distributions
overlaid, and the drift-over-time chart with a status grid. The chart plots, per chunk, the
largest effect of a *significant* test divided by its drift floor: on small chunks effect sizes
are noisy (PSI on 50 rows is often above 0.2 by chance), and drawing them would make calm
periods look alarming although the rule ignores them.
"""

from __future__ import annotations

from html import escape

from churnops.monitoring.narrative import drift_timing
from churnops.monitoring.results import (
    Chunk,
    DriftReport,
    FeatureResult,
    GroupResult,
    JudgedChunk,
    NumericHistogram,
    UnjudgedChunk,
)

STATUS_COLOURS: dict[str | None, str] = {
    "ok": "#2e7d32",
    "warning": "#ef8f00",
    "drift": "#c62828",
    "not compared": "#9e9e9e",
    None: "#9e9e9e",
}
LINE_COLOURS = ("#1565c0", "#6a1b9a", "#00838f", "#ad1457", "#4e342e", "#558b2f", "#37474f")
REFERENCE_COLOUR = "#78909c"
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#212121}
h1{margin-bottom:.2rem} .muted{color:#616161} table{border-collapse:collapse;margin:.8rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;font-size:.9rem}
th{background:#f5f5f5} td:first-child,th:first-child{text-align:left}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;color:#fff;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:1rem} .card{border:1px solid #e0e0e0;border-radius:.4rem;
padding:.6rem} .rule{background:#fafafa;border-left:4px solid #90a4ae;padding:.5rem 1rem}
svg text{font-size:10px;fill:#424242}
"""


def _when(chunk: Chunk) -> str:
    bounds = chunk.bounds
    if bounds.start is not None:
        return bounds.start
    return f"rows {bounds.first_row}–{bounds.last_row}"


def _badge(status: str | None, text: str | None = None) -> str:
    colour = STATUS_COLOURS.get(status, STATUS_COLOURS[None])
    return f'<span class="badge" style="background:{colour}">{escape(text or str(status))}</span>'


def _num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return escape(str(value))


def _histogram_svg(entry: FeatureResult) -> str:
    """Reference (grey) and current (status colour) shares overlaid on the same bins."""
    hist = entry.histogram
    if not hist:
        return '<p class="muted">no values to plot</p>'
    width, height, left, bottom = 420, 170, 34, 34
    reference, current = hist.reference, hist.current
    bins = len(current)
    top = max([*reference, *current, 1e-9])
    plot_w, plot_h = width - left - 8, height - bottom - 10
    colour = STATUS_COLOURS.get(entry.status, STATUS_COLOURS[None])
    categorical = not isinstance(hist, NumericHistogram)
    step = plot_w / bins
    parts = [f'<svg width="{width}" height="{height}" role="img">']
    for i, (ref_share, cur_share) in enumerate(zip(reference, current, strict=True)):
        x = left + i * step
        bar_w = step * (0.42 if categorical else 0.98)
        for offset, share, fill in (
            (0.0, ref_share, REFERENCE_COLOUR),
            (step * 0.45 if categorical else 0.0, cur_share, colour),
        ):
            h = plot_h * share / top
            y = 10 + plot_h - h
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{fill}" fill-opacity="{0.85 if categorical else 0.5}">'
                f"<title>{share:.2%}</title></rect>"
            )
    axis_y = 10 + plot_h
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{width - 8}" y2="{axis_y}" stroke="#999"/>')
    parts.append(f'<text x="2" y="18">{top:.0%}</text>')
    if not isinstance(hist, NumericHistogram):
        for i, name in enumerate(hist.categories):
            label = escape(name if len(name) <= 14 else name[:13] + "…")
            x = left + i * step + step / 2
            parts.append(f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle">{label}</text>')
    else:
        edges = hist.edges
        for x, value, anchor in ((left, edges[0], "start"), (width - 8, edges[-1], "end")):
            parts.append(f'<text x="{x}" y="{axis_y + 14}" text-anchor="{anchor}">{value:g}</text>')
    legend_y = height - 4
    parts.append(
        f'<rect x="{left}" y="{legend_y - 8}" width="10" height="8" fill="{REFERENCE_COLOUR}"/>'
        f'<text x="{left + 14}" y="{legend_y}">reference</text>'
        f'<rect x="{left + 80}" y="{legend_y - 8}" width="10" height="8" fill="{colour}"/>'
        f'<text x="{left + 94}" y="{legend_y}">current</text></svg>'
    )
    return "".join(parts)


def _plotted(entry: FeatureResult) -> float:
    """The effect drawn for a chunk: significant effects only (0 when nothing is significant)."""
    return entry.significant_effect_ratio


def _timeline_svg(chunks: list[Chunk], names: list[str]) -> str:
    """Significant effect / floor per chunk and feature; at 1 it reaches its drift floor."""
    judged = [c for c in chunks if isinstance(c, JudgedChunk) and c.features]
    if len(judged) < 2:
        return '<p class="muted">one chunk only: nothing to draw over time</p>'
    width, height, left, bottom = 860, 240, 40, 40
    plot_w, plot_h = width - left - 130, height - bottom - 12
    ratios = [min(_plotted(e), 5.0) for c in judged for n in names if (e := c.verdict(n))]
    top = float(max([1.5, *ratios]))
    step = plot_w / max(len(chunks) - 1, 1)

    def y_of(value: float) -> float:
        return 12 + plot_h * (1 - min(value, top) / top)

    parts = [f'<svg width="{width}" height="{height}" role="img">']
    floor_y = y_of(1.0)
    parts.append(
        f'<line x1="{left}" y1="{floor_y:.1f}" x2="{left + plot_w}" y2="{floor_y:.1f}" '
        f'stroke="{STATUS_COLOURS["drift"]}" stroke-dasharray="5,4"/>'
        f'<text x="{left + plot_w + 4}" y="{floor_y + 3:.1f}">drift floor</text>'
    )
    for index, name in enumerate(names):
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        points = []
        for i, chunk in enumerate(chunks):
            entry = chunk.verdict(name)
            if entry is None:
                continue
            ratio = _plotted(entry)
            x, y = left + i * step, y_of(ratio)
            points.append(f"{x:.1f},{y:.1f}")
            fill = STATUS_COLOURS.get(entry.status, STATUS_COLOURS[None])
            label = (
                f"{name} · {_when(chunk)}: {entry.status} (significant effect/floor "
                f"{ratio:.2f}; any effect/floor {entry.effect_ratio:.2f})"
            )
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{fill}">'
                f"<title>{escape(label)}</title></circle>"
            )
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
            f'stroke-width="1.5"/>'
            f'<text x="{left + plot_w + 4}" y="{24 + 14 * index}" fill="{colour}" '
            f'style="fill:{colour}">{escape(name)}</text>'
        )
    axis_y = 12 + plot_h
    parts.append(
        f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" stroke="#999"/>'
    )
    for i in sorted({0, len(chunks) // 2, len(chunks) - 1}):
        label = _when(chunks[i])
        anchor = "start" if i == 0 else ("end" if i == len(chunks) - 1 else "middle")
        parts.append(
            f'<text x="{left + i * step:.1f}" y="{axis_y + 14}" text-anchor="{anchor}">'
            f"{escape(str(label))}</text>"
        )
    parts.append(f'<text x="2" y="16">{top:.2g}×</text><text x="2" y="{axis_y}">0</text></svg>')
    caption = (
        '<p class="muted">Per chunk: the largest effect of a significant test (after Holm '
        "correction) divided by its drift floor; 0 when no test is significant.</p>"
    )
    return "".join(parts) + caption


def _status_grid(chunks: list[Chunk], names: list[str]) -> str:
    head = "".join(f"<th>{i + 1}</th>" for i in range(len(chunks)))
    rows = []
    for name in names:
        cells = []
        for chunk in chunks:
            entry = chunk.verdict(name)
            status = entry.status if entry else None
            note = chunk.note if isinstance(chunk, UnjudgedChunk) else "not judged"
            title = f"{_when(chunk)}: {status or note}, {chunk.rows} rows"
            colour = STATUS_COLOURS.get(status, STATUS_COLOURS[None])
            cells.append(f'<td title="{escape(title)}" style="background:{colour}"></td>')
        rows.append(f"<tr><td>{escape(name)}</td>{''.join(cells)}</tr>")
    return f"<table><tr><th>chunk</th>{head}</tr>{''.join(rows)}</table>"


def _feature_rows(features: dict[str, FeatureResult]) -> str:
    rows = []
    for name, e in features.items():
        stats = e.stats
        if e.numeric is not None:
            test = f"KS {_num(e.numeric.ks_statistic)}"
            effect = f"W/std {_num(e.numeric.wasserstein_norm)}"
        elif e.categorical is not None:
            test = f"χ² {_num(e.categorical.chi2_statistic)}"
            effect = f"JS {_num(e.categorical.js_distance)}"
        else:
            test = f"{'KS' if e.kind == 'numeric' else 'χ²'} –"
            effect = f"{'W/std' if e.kind == 'numeric' else 'JS'} –"
        unseen = e.categorical.unseen_share if e.categorical else None
        missing = e.missing.missing_rate_change if e.missing else None
        reference_count = stats.reference_count if stats else None
        rows.append(
            f"<tr><td>{escape(name)}</td><td>{_badge(e.status)}</td><td>{_num(e.psi)}</td>"
            f"<td>{test}</td><td>{_num(e.p_value_adjusted, 2)}</td><td>{effect}</td>"
            f"<td>{_num(unseen)}</td><td>{_num(missing)}</td>"
            f"<td>{_num(reference_count)} / {_num(e.current_count)}</td>"
            f"<td style='text-align:left'>{escape('; '.join(e.reasons or []))}</td></tr>"
        )
    head = (
        "<tr><th>feature</th><th>status</th><th>PSI</th><th>test</th><th>p (Holm)</th>"
        "<th>effect</th><th>unseen</th><th>Δ missing</th><th>ref / current n</th>"
        "<th>why</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _group(group: GroupResult) -> str:
    ref = group.reference
    features = group.verdicts()
    verdict = "DRIFT" if group.drift_detected else "no drift"
    served = f"model v{group.model_version}" if group.model_version else "current data"
    timing = drift_timing(group)
    began = f" — {timing}" if timing else ""
    cards = "".join(
        f'<div class="card"><b>{escape(name)}</b> {_badge(e.status)}<br>{_histogram_svg(e)}</div>'
        for name, e in features.items()
        if e.histogram
    )
    skipped = "".join(
        f"<li>{escape(n)}: {escape(why)}</li>" for n, why in group.skipped_features.items()
    )
    names = list(features)
    return (
        f"<h2>{escape(served)}: {group.rows:,} rows vs reference {escape(ref.label)} "
        f"{_badge('drift' if group.drift_detected else 'ok', verdict)}</h2>"
        f'<p class="muted">drift score {group.drift_score:.2f}; reference sample '
        f"{ref.sample_rows:,} rows (training {ref.training_rows or '?'} rows)"
        f"{escape(began)}</p>"
        f"{_feature_rows(features)}"
        + (f"<p>Not compared:</p><ul>{skipped}</ul>" if skipped else "")
        + f'<h3>Reference vs current</h3><div class="grid">{cards}</div>'
        f"<h3>Drift over time ({len(group.chunks)} chunks)</h3>"
        f"{_timeline_svg(group.chunks, names)}{_status_grid(group.chunks, names)}"
    )


def render_html(report: DriftReport) -> str:
    verdict = "Drift detected" if report.drift_detected else "No drift"
    source = report.source
    where = f"{source.kind}: {source.window or source.path}"
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>churnops drift report {escape(report.generated_at)}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>Drift report {_badge('drift' if report.drift_detected else 'ok', verdict)}</h1>"
        f'<p class="muted">generated {escape(report.generated_at)} · '
        f"{escape(where)}"
        f" · drift score {report.drift_score:.2f}</p>"
        f'<p class="rule">{escape(report.rule)}</p>'
        + "".join(_group(g) for g in report.groups)
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + "</body></html>\n"
    )
