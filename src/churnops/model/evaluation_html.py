"""The comparison as one self-contained HTML page: inline CSS, the PNG figures embedded as data
URIs, no script and no network, so it opens offline and can be mailed as one file."""

from __future__ import annotations

import base64
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from churnops.model.evaluate import Comparison, VersionResult

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
color:#212121;max-width:1200px;padding:0 1.5rem} h1{margin-bottom:.2rem}
h2{margin-top:2.4rem;border-top:1px solid #e0e0e0;padding-top:1rem} .muted{color:#616161}
table{border-collapse:collapse;margin:.8rem 0} td,th{border:1px solid #ddd;padding:.3rem .6rem;
text-align:right;font-size:.92rem} th{background:#f5f5f5} td:first-child,th:first-child{
text-align:left} td.best{font-weight:700;background:#e8f5e9} .read{max-width:60rem}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:1.2rem}
.card{border:1px solid #e0e0e0;border-radius:.4rem;padding:.4rem 1rem 1rem}
.card.wide{grid-column:1/-1} .card h3{margin:.6rem 0 .3rem} .card img{max-width:100%}
.note{background:#f5f7fa;border-left:4px solid #90a4ae;padding:.5rem 1rem;max-width:60rem}
"""

# (key, label, format, which value is best: "high", "low" or None)
ROWS: tuple[tuple[str, str, str, str | None], ...] = (
    ("roc_auc", "ROC AUC", ".4f", "high"),
    ("average_precision", "average precision (PR AUC)", ".4f", "high"),
    ("brier", "Brier score", ".4f", "low"),
    ("caught_top_10pct", "churners caught in the top 10 %", ".1%", "high"),
    ("caught_top_20pct", "churners caught in the top 20 %", ".1%", "high"),
    ("caught_top_30pct", "churners caught in the top 30 %", ".1%", "high"),
    ("lift_top_10pct", "lift in the top 10 %", ".2f", "high"),
    ("expected_cost", "expected cost per customer at its threshold", ",.2f", "low"),
    ("threshold", "decision threshold", ".2f", None),
    ("accuracy", "accuracy at the threshold", ".4f", "high"),
    ("precision", "precision at the threshold", ".4f", "high"),
    ("recall", "recall at the threshold", ".4f", "high"),
    ("f1", "F1 at the threshold", ".4f", "high"),
)

FIGURES: dict[str, tuple[str, str]] = {
    "roc": (
        "ROC curves",
        "Each curve traces churners caught against stayers wrongly flagged as the threshold "
        "moves; higher and further left is better. The dot is where each version decides today.",
    ),
    "precision_recall": (
        "Precision–recall curves",
        "Of the customers a version flags, the share who really churn (precision), against the "
        "share of all churners flagged (recall). Precision depends on how many churn ({churn_rate} "
        "of these customers: the dotted line), so when churners are few this shows differences "
        "the ROC curve hides.",
    ),
    "calibration": (
        "Calibration",
        "Customers in ten equal groups by predicted probability: a calibrated model's points lie "
        "on the diagonal (of customers given 30 %, 30 % churn). The Brier score is the mean "
        "squared gap between probability and outcome (lower is better). Cost thresholds and "
        "realised-performance monitoring assume calibrated probabilities.",
    ),
    "confusion": (
        "Confusion matrices",
        "Counts and the rate within each actual class (rows sum to 100 %) at each version's "
        "decision threshold.",
    ),
    "gains": (
        "Cumulative gains",
        "Contact the customers with the highest scores first: the share of all churners reached "
        "after contacting the top x %. This is how a retention team sizes a campaign.",
    ),
    "importance": (
        "Permutation feature importance",
        "How much ROC AUC drops when one declared feature's values are shuffled among the "
        "customers (all of a categorical feature's one-hot columns move together). Near zero: "
        "the version barely uses it.",
    ),
    "cost": (
        "Expected cost against the threshold",
        "The cost per customer of missed churners and wasted offers at each threshold. The dot "
        "is each version's threshold, the ring the lowest point on these customers.",
    ),
}


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "–"
    return format(value, fmt) if isinstance(value, int | float) else escape(str(value))


def _summary(versions: list[VersionResult]) -> str:
    head = "".join(f"<th>{escape(v.name)}</th>" for v in versions)
    rows = [f"<tr><th>metric</th>{head}</tr>"]
    calibrations = "".join(f"<td>{escape(v.calibration or 'none')}</td>" for v in versions)
    rows.append(f"<tr><td>calibration</td>{calibrations}</tr>")
    for key, label, fmt, better in ROWS:
        values = [v.metrics.get(key) for v in versions]
        if all(value is None for value in values):
            continue
        known = [value for value in values if value is not None]
        pick: Callable[..., Any] = max if better == "high" else min
        best = pick(known) if better and len(versions) > 1 else None
        cells = "".join(
            f'<td class="{"best" if value is not None and value == best else ""}">'
            f"{_cell(value, fmt)}</td>"
            for value in values
        )
        rows.append(f"<tr><td>{escape(label)}</td>{cells}</tr>")
    return f"<table>{''.join(rows)}</table>"


WIDE = {"confusion"}  # drawn one panel per version: the page's full width


# added to the readings of the figures that draw the oracle, when they do (customers from
# the generator); the ROC figure comes first, so it says what the oracle is
ORACLE_READINGS = {
    "roc": " The dashed oracle line ranks these same customers by their true churn "
    "probabilities; they are a sample, so a model can land a little above it.",
    "precision_recall": " The dashed line is the oracle, as in the ROC curves.",
    "gains": " The dashed line is the oracle, as in the ROC curves.",
}


def _figure(name: str, png: bytes, oracle: bool, churn_rate: float) -> str:
    title, reading = FIGURES[name]
    reading = reading.format(churn_rate=f"{churn_rate:.1%}")
    if oracle:
        reading += ORACLE_READINGS.get(name, "")
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<div class="card{" wide" if name in WIDE else ""}"><h3>{escape(title)}</h3>'
        f'<p class="read muted">{escape(reading)}</p>'
        f'<img alt="{escape(title)}" src="data:image/png;base64,{data}"></div>'
    )


def render_html(comparison: Comparison) -> str:
    names = " · ".join(v.name for v in comparison.versions)
    facts = [
        comparison.source,
        f"churn rate {comparison.churn_rate:.1%}",
    ]
    if comparison.rows_dropped:
        facts.append(f"{comparison.rows_dropped:,} rows failed a version's checks, not scored")
    if comparison.oracle_auc is not None:
        facts.append(f"oracle ROC AUC {comparison.oracle_auc:.4f}")
    if comparison.costs is not None:
        facts.append(f"costs: {comparison.costs.describe()}")
    body = "".join(
        _figure(name, path.read_bytes(), comparison.oracle_auc is not None, comparison.churn_rate)
        for name, path in comparison.figures.items()
        if name in FIGURES
    )
    missing = (
        ""
        if "roc" in comparison.figures
        else (
            '<p class="note">These customers hold one class only: no ROC, precision–recall, gains '
            "or importance can be drawn.</p>"
        )
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>churnops evaluation {escape(names)}</title><style>{CSS}</style></head><body>"
        f"<h1>Model comparison: {escape(names)}</h1>"
        f'<p class="muted">{escape(" · ".join(facts))}</p>'
        '<p class="note">Every version is scored on the same customers, through the ONNX graph the '
        "API serves. By default these are hold-out customers none of the compared versions was "
        "trained on; <code>--data FILE</code> scores a labelled file instead.</p>"
        f"<h2>Summary</h2>{_summary(comparison.versions)}{missing}"
        f'<h2>Figures</h2><div class="figures">{body}</div>'
        "</body></html>\n"
    )
