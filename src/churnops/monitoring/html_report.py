"""The drift report as one self-contained HTML page: inline CSS and SVG, no script, no network.

Per model version: the verdict, when drift started, what to do next about each finding, the
verdict table, each feature's reference and current distributions, and the drift over time
(a chart and a status grid, both labelled with the chunks' times). How drift is decided
folds away under the title.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from churnops.monitoring.html_charts import (
    MAX_RATIO,
    STATUS_COLOURS,
    category_bars,
    drawn_series,
    numeric_histogram,
    status_grid,
    timeline,
)
from churnops.monitoring.narrative import drift_timing, next_steps
from churnops.monitoring.results import (
    TABLE,
    DriftReport,
    FeatureResult,
    GroupResult,
    NumericHistogram,
    judged,
)

PREDICTED = "predicted churn probability"
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#212121;
max-width:1280px} h1{margin-bottom:.2rem} h2{margin-top:2.2rem;border-top:1px solid #e0e0e0;
padding-top:1rem} .muted{color:#616161} table{border-collapse:collapse;margin:.8rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;font-size:.9rem}
th{background:#f5f5f5} td:first-child,th:first-child{text-align:left}
td.why,th.why{text-align:left;max-width:30rem}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;color:#fff;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:1rem} .card{border:1px solid #e0e0e0;border-radius:.4rem;
padding:.6rem} details.rule{background:#fafafa;border-left:4px solid #90a4ae;padding:.5rem 1rem}
details.rule summary{cursor:pointer;color:#455a64} .next{background:#fff8e1;
border-left:4px solid #ef8f00;padding:.4rem 1rem .6rem} .next li{margin:.3rem 0}
.timing{font-size:1.05rem} svg text{font-size:11px;fill:#424242} svg text.title{font-size:12px;
fill:#212121} svg .grid{stroke:#eceff1} svg .axis{stroke:#90a4ae}
table.status td{width:18px;height:18px;padding:0;border:1px solid #fff}
table.status td:first-child{width:auto;padding:0 .5rem;border:1px solid #ddd}
th.when{height:5.5rem;vertical-align:bottom;padding:.2rem 0;background:none;border:none}
th.when span{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:400;font-size:.75rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;margin:0 .25rem 0 .8rem;
vertical-align:middle}
"""


def _badge(status: str | None, text: str | None = None) -> str:
    colour = STATUS_COLOURS.get(status, STATUS_COLOURS[None])
    return f'<span class="badge" style="background:{colour}">{escape(text or str(status))}</span>'


def _num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}g}" if isinstance(value, float) else f"{value:,}"


def _feature_rows(features: dict[str, FeatureResult]) -> str:
    head = "".join(f"<th>{escape(shown.label)}</th>" for shown in TABLE)
    rows = []
    for name, e in features.items():
        values = "".join(f"<td>{_num(shown.value(e))}</td>" for shown in TABLE)
        stats = e.stats
        counts = f"{_num(stats.reference_count if stats else None)} / {_num(e.current_count)}"
        rows.append(
            f"<tr><td>{escape(name)}</td><td>{_badge(e.status)}</td>{values}<td>{counts}</td>"
            f'<td class="why">{escape("; ".join(e.reasons or []))}</td></tr>'
        )
    return (
        f"<table><tr><th>feature</th><th>status</th>{head}<th>reference / current n</th>"
        f'<th class="why">why</th></tr>{"".join(rows)}</table>'
    )


def _next_steps(group: GroupResult, alpha: float) -> str:
    items = []
    for advice in next_steps(group, alpha):
        entry = group.verdicts()[advice.name]
        steps = "".join(f"<li>{escape(step)}</li>" for step in advice.steps)
        items.append(
            f"<li>{_badge(entry.status)} <b>{escape(advice.name)}</b>: "
            f"{escape(advice.finding)}<ul>{steps}</ul></li>"
        )
    if not items:
        return ""
    return f'<div class="next"><h3>What to do next</h3><ul>{"".join(items)}</ul></div>'


def _chart(name: str, entry: FeatureResult, descriptions: Mapping[str, str]) -> str:
    hist = entry.histogram
    if hist is None:
        return ""
    described = descriptions.get(name, PREDICTED if name == "prediction" else None)
    title = f"{name} — {described}" if described else name
    if isinstance(hist, NumericHistogram):
        chart = numeric_histogram(entry, hist, title)
    else:
        chart = category_bars(entry, hist, f"{title}: % of rows")
    return f'<div class="card"><b>{escape(name)}</b> {_badge(entry.status)}<br>{chart}</div>'


def _over_time(group: GroupResult) -> str:
    chunks, names = group.chunks, list(group.verdicts())
    heading = f"<h3>Drift over time ({len(chunks)} chunks)</h3>"
    if len(judged(chunks)) < 2:
        return heading + '<p class="muted">one chunk only: nothing to draw over time</p>'
    flat = [name for name in names if name not in drawn_series(chunks, names)]
    caption = (
        '<p class="muted">Per chunk, the largest effect of a significant test (after Holm '
        f"correction) divided by its drift floor; at 1× it reaches the floor (above {MAX_RATIO:g}× "
        f"drawn at {MAX_RATIO:g}×). "
        + (
            f"Not drawn, nothing significant in any chunk: {escape(', '.join(flat))}."
            if flat
            else ""
        )
        + "</p>"
    )
    return heading + timeline(chunks, names) + caption + status_grid(chunks, names)


def _group(group: GroupResult, alpha: float, descriptions: Mapping[str, str]) -> str:
    ref = group.reference
    features = group.verdicts()
    verdict = "DRIFT" if group.drift_detected else "no drift"
    served = f"model v{group.model_version}" if group.model_version else "current data"
    timing = drift_timing(group)
    skipped = "".join(
        f"<li>{escape(n)}: {escape(why)}</li>" for n, why in group.skipped_features.items()
    )
    cards = "".join(_chart(name, entry, descriptions) for name, entry in features.items())
    return (
        f"<h2>{escape(served)}: {group.rows:,} rows vs reference {escape(ref.label)} "
        f"{_badge('drift' if group.drift_detected else 'ok', verdict)}</h2>"
        f'<p class="muted">drift score {group.drift_score:.2f}; reference sample '
        f"{ref.sample_rows:,} rows (training {_num(ref.training_rows)} rows)</p>"
        + (f'<p class="timing"><b>When:</b> {escape(timing)}</p>' if timing else "")
        + _next_steps(group, alpha)
        + _feature_rows(features)
        + (f"<p>Not compared:</p><ul>{skipped}</ul>" if skipped else "")
        + f'<h3>Reference vs current</h3><div class="grid">{cards}</div>'
        + _over_time(group)
    )


def render_html(report: DriftReport, descriptions: Mapping[str, str] | None = None) -> str:
    """The page; ``descriptions`` (feature → what it measures, from the schema) title the
    charts' axes."""
    verdict = "Drift detected" if report.drift_detected else "No drift"
    source = report.source
    where = f"{source.kind}: {source.window or source.path}"
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    alpha = report.thresholds.alpha
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>churnops drift report {escape(report.generated_at)}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>Drift report {_badge('drift' if report.drift_detected else 'ok', verdict)}</h1>"
        f'<p class="muted">generated {escape(report.generated_at)} · {escape(where)} · '
        f"drift score {report.drift_score:.2f}</p>"
        f'<details class="rule"><summary>How drift is decided</summary>'
        f"<p>{escape(report.rule)}</p></details>"
        + "".join(_group(g, alpha, descriptions or {}) for g in report.groups)
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + "</body></html>\n"
    )
