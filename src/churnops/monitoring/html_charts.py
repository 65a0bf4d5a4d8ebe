"""The drift report's charts as inline SVG: each feature's distribution (reference against
current), the effect per chunk over time, and the status of each chunk.

Every chart has labelled axes with round-number ticks (``matplotlib.ticker.MaxNLocator``
picks them) and units, full category names, and a legend of only what it draws. The
over-time chart plots, per chunk, the largest effect of a *significant* test divided by its
drift floor: on small chunks effect sizes are noisy (PSI on 50 rows is often above 0.2 by
chance), and drawing them would make calm periods look alarming although the rule ignores
them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from matplotlib.ticker import MaxNLocator

from churnops.monitoring.results import (
    CategoricalHistogram,
    Chunk,
    FeatureResult,
    NumericHistogram,
    UnjudgedChunk,
)

STATUS_COLOURS: dict[str | None, str] = {
    "ok": "#2e7d32",
    "warning": "#ef8f00",
    "drift": "#c62828",
    "not compared": "#9e9e9e",
    None: "#bdbdbd",
}
LINE_COLOURS = ("#1565c0", "#6a1b9a", "#00838f", "#ad1457", "#4e342e", "#558b2f", "#37474f")
REFERENCE_COLOUR = "#78909c"
CHAR_PX = 6.6  # width of a character of the 11 px labels, for laying out text
MAX_RATIO = 5.0  # the over-time chart's ceiling (effect ÷ floor)


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round-number ticks within [low, high]."""
    found = MaxNLocator(nbins=count, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
    slack = (high - low) * 1e-9
    return [float(t) for t in found if low - slack <= t <= high + slack]


def number(value: float) -> str:
    """A tick label: thousands separated, no needless decimals."""
    if abs(value) >= 1_000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def percent(share: float) -> str:
    return f"{number(round(share * 100, 6))}%" if share else "0"


def _x_tick(x: float, y: float, right: float, label: str) -> str:
    """A tick mark and its label under the axis; a label at the right end ends there."""
    anchor = "end" if x > right - CHAR_PX * len(label) / 2 else "middle"
    mark = f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" class="axis"/>'
    return mark + _text(x, y + 16, label, anchor)


def _text(x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def _legend(x: float, y: float, items: Sequence[tuple[str, str, bool]]) -> str:
    """Swatches (filled, or an outline for what is drawn as a line) with their labels."""
    parts = []
    for colour, label, outline in items:
        paint = (
            f'fill="none" stroke="{colour}" stroke-width="1.6"' if outline else f'fill="{colour}"'
        )
        parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="11" height="11" {paint}/>')
        parts.append(_text(x + 15, y, label, "start"))
        x += 30 + CHAR_PX * len(label)
    return "".join(parts)


def _y_axis(
    left: float, right: float, top: float, bottom: float, peak: float, label: str
) -> list[str]:
    """Horizontal grid lines with share-of-rows labels, and the axis title."""
    parts = []
    for tick in ticks(0.0, peak):
        y = bottom - (bottom - top) * tick / peak
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" class="grid"/>')
        parts.append(_text(left - 4, y + 3.5, percent(tick), "end"))
    middle = (top + bottom) / 2
    rotate = f' transform="rotate(-90 12 {middle:.1f})"'
    parts.append(_text(12, middle, label, extra=rotate))
    return parts


def numeric_histogram(entry: FeatureResult, hist: NumericHistogram, axis_title: str) -> str:
    """Current shares of rows as bars (status colour) under the reference's as a grey outline,
    on the same equal-width bins."""
    width, height, left, right, top, bottom = 460, 250, 52, 448, 30, 200
    edges, peak = hist.edges, max([*hist.reference, *hist.current, 1e-9])
    low, high = edges[0], edges[-1]
    colour = STATUS_COLOURS.get(entry.status, STATUS_COLOURS[None])
    step = (right - left) / len(hist.current)

    def y_of(share: float) -> float:
        return bottom - (bottom - top) * share / peak

    parts = [f'<svg width="{width}" height="{height}" role="img">']
    parts += _y_axis(left, right, top, bottom, peak, "% of rows")
    outline = [f"{left},{bottom}"]
    for i, (ref, cur) in enumerate(zip(hist.reference, hist.current, strict=True)):
        x = left + i * step
        parts.append(
            f'<rect x="{x:.1f}" y="{y_of(cur):.1f}" width="{step * 0.94:.1f}" '
            f'height="{bottom - y_of(cur):.1f}" fill="{colour}" fill-opacity="0.6"/>'
        )
        outline += [f"{x:.1f},{y_of(ref):.1f}", f"{x + step:.1f},{y_of(ref):.1f}"]
        span = f"{number(edges[i])} to {number(edges[i + 1])}"
        tip = f"{span}: reference {ref:.1%}, current {cur:.1%}"
        parts.append(
            f'<rect x="{x:.1f}" y="{top}" width="{step:.1f}" height="{bottom - top}" '
            f'fill="transparent"><title>{escape(tip)}</title></rect>'
        )
    outline.append(f"{right},{bottom}")
    parts.append(
        f'<polyline points="{" ".join(outline)}" fill="none" stroke="{REFERENCE_COLOUR}" '
        'stroke-width="1.6" pointer-events="none"/>'
    )
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" class="axis"/>')
    for tick in ticks(low, high):
        x = left + (right - left) * (tick - low) / (high - low)
        parts.append(_x_tick(x, bottom, right, number(tick)))
    parts.append(_text((left + right) / 2, bottom + 36, axis_title, extra=' class="title"'))
    legend = ((REFERENCE_COLOUR, "reference", True), (colour, "current", False))
    parts.append(_legend(left, 16, legend))
    parts.append("</svg>")
    return "".join(parts)


def category_bars(entry: FeatureResult, hist: CategoricalHistogram, axis_title: str) -> str:
    """One pair of horizontal bars per category (reference, current), with full labels and
    both shares written out; categories never seen in training are marked."""
    unseen = set(entry.unseen_values or {})
    labels = [f"{c} (new)" if c in unseen else c for c in hist.categories]
    left = 12 + CHAR_PX * max(len(label) for label in labels)
    plot, row = 240.0, 28
    right = left + plot
    top = 30
    bottom = top + row * len(labels)
    width, height = right + 120, bottom + 44
    peak = max([*hist.reference, *hist.current, 1e-9])
    colour = STATUS_COLOURS.get(entry.status, STATUS_COLOURS[None])
    parts = [f'<svg width="{width:.0f}" height="{height}" role="img">']
    for tick in ticks(0.0, peak):
        x = left + plot * tick / peak
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" class="grid"/>')
        parts.append(_text(x, bottom + 15, percent(tick)))
    for i, (label, ref, cur) in enumerate(zip(labels, hist.reference, hist.current, strict=True)):
        y = top + i * row
        style = f' style="fill:{colour}"' if label.endswith("(new)") else ""
        parts.append(_text(left - 6, y + 17, label, "end", style))
        for offset, share, fill in ((4, ref, REFERENCE_COLOUR), (14, cur, colour)):
            parts.append(
                f'<rect x="{left}" y="{y + offset}" width="{plot * share / peak:.1f}" '
                f'height="9" fill="{fill}"/>'
            )
        parts.append(_text(right + 6, y + 17, f"{ref:.1%} → {cur:.1%}", "start"))
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" class="axis"/>')
    parts.append(_text(left + plot / 2, bottom + 34, axis_title, extra=' class="title"'))
    parts.append(
        _legend(left, 16, ((REFERENCE_COLOUR, "reference", False), (colour, "current", False)))
    )
    parts.append("</svg>")
    return "".join(parts)


def short_times(chunks: list[Chunk]) -> tuple[list[str], str]:
    """A short label per chunk (its start, or first row) and the axis title giving the unit."""
    starts = [chunk.bounds.start for chunk in chunks]
    if any(start is None for start in starts):
        return [f"{chunk.bounds.first_row:,}" for chunk in chunks], "first row of each chunk"
    days = {start[:10] for start in starts if start}
    if len(days) == 1:
        return [start[11:16] for start in starts if start], f"chunk start, UTC, {days.pop()}"
    return [f"{start[5:10]} {start[11:16]}" for start in starts if start], "chunk start, UTC"


def drawn_series(chunks: list[Chunk], names: list[str]) -> list[str]:
    """The features worth a line: a significant effect in at least one chunk."""
    return [
        name
        for name in names
        if any((v := c.verdict(name)) and v.significant_effect_ratio > 0 for c in chunks)
    ]


def timeline(chunks: list[Chunk], names: list[str]) -> str:
    """Significant effect ÷ drift floor per chunk, one line per feature that has one."""
    drawn = drawn_series(chunks, names)
    legend_w = 24 + CHAR_PX * max((len(n) for n in drawn), default=0)
    width, left, top, bottom = 760 + legend_w, 56, 14, 196
    right = width - legend_w - 10
    ratios = [
        min(v.significant_effect_ratio, MAX_RATIO)
        for c in chunks
        for n in drawn
        if (v := c.verdict(n))
    ]
    peak = max([1.5, *ratios])
    step = (right - left) / max(len(chunks) - 1, 1)

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * min(value, peak) / peak

    parts = [f'<svg width="{width:.0f}" height="{bottom + 56}" role="img">']
    parts += _timeline_axes(chunks, left, right, top, bottom, peak, y_of)
    parts += _series(chunks, drawn, left, step, y_of)
    if not drawn:
        middle = (top + bottom) / 2
        parts.append(_text((left + right) / 2, middle, "no significant change in any chunk"))
    for index, name in enumerate(drawn):
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        y = top + 10 + 18 * index
        parts.append(
            f'<line x1="{right + 14}" y1="{y - 4}" x2="{right + 30}" y2="{y - 4}" '
            f'stroke="{colour}" stroke-width="2"/>' + _text(right + 34, y, name, "start")
        )
    parts.append("</svg>")
    return "".join(parts)


def _timeline_axes(
    chunks: list[Chunk],
    left: float,
    right: float,
    top: float,
    bottom: float,
    peak: float,
    y_of: Callable[[float], float],
) -> list[str]:
    """Grid lines in multiples of the floor, the dashed floor itself, and chunk times."""
    parts = []
    for tick in ticks(0.0, peak):
        y = y_of(tick)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" class="grid"/>')
        parts.append(_text(left - 4, y + 3.5, f"{number(tick)}×", "end"))
    floor, red = y_of(1.0), STATUS_COLOURS["drift"]
    parts.append(
        f'<line x1="{left}" y1="{floor:.1f}" x2="{right}" y2="{floor:.1f}" '
        f'stroke="{red}" stroke-dasharray="5,4"/>'
        + _text(right - 2, floor - 4, "drift floor", "end", f' style="fill:{red}"')
    )
    labels, unit = short_times(chunks)
    step = (right - left) / max(len(chunks) - 1, 1)
    every = max(1, -(-len(chunks) * 80 // int(right - left)))  # one label per ≥ 80 px
    for i in range(0, len(chunks), every):
        parts.append(_x_tick(left + i * step, bottom, right, labels[i]))
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" class="axis"/>')
    parts.append(_text((left + right) / 2, bottom + 36, unit, extra=' class="title"'))
    middle = (top + bottom) / 2
    rotate = f' transform="rotate(-90 12 {middle:.1f})"'
    parts.append(_text(12, middle, "effect ÷ drift floor", extra=rotate))
    return parts


def _series(
    chunks: list[Chunk], drawn: list[str], left: float, step: float, y_of: Callable[[float], float]
) -> list[str]:
    """A line per drawn feature, with a dot per judged chunk in the colour of its status; the
    line breaks where a chunk could not be judged."""
    parts = []
    for index, name in enumerate(drawn):
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        lines: list[list[str]] = [[]]
        dots = []
        for i, chunk in enumerate(chunks):
            entry = chunk.verdict(name)
            if entry is None:
                lines.append([])
                continue
            ratio = entry.significant_effect_ratio
            x, y = left + i * step, y_of(ratio)
            lines[-1].append(f"{x:.1f},{y:.1f}")
            tip = (
                f"{name} · {chunk.bounds.begins}: {entry.status} (significant effect ÷ floor "
                f"{ratio:.2f}; any effect ÷ floor {entry.effect_ratio:.2f})"
            )
            fill = STATUS_COLOURS.get(entry.status, STATUS_COLOURS[None])
            dots.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{fill}">'
                f"<title>{escape(tip)}</title></circle>"
            )
        parts += [
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
            'stroke-width="1.8"/>'
            for points in lines
            if len(points) > 1
        ]
        parts += dots
    return parts


def status_grid(chunks: list[Chunk], names: list[str]) -> str:
    """Each feature's status in each chunk, under the chunk's start (or first row)."""
    labels, unit = short_times(chunks)
    head = "".join(f'<th class="when"><span>{escape(label)}</span></th>' for label in labels)
    rows, seen = [], set()
    for name in names:
        cells = []
        for chunk in chunks:
            entry = chunk.verdict(name)
            status = entry.status if entry else None
            seen.add(status if status else "not judged")
            note = chunk.note if isinstance(chunk, UnjudgedChunk) else "not judged"
            title = f"{chunk.bounds.begins}: {status or note}, {chunk.rows:,} rows"
            colour = STATUS_COLOURS.get(status, STATUS_COLOURS[None])
            cells.append(f'<td title="{escape(title)}" style="background:{colour}"></td>')
        rows.append(f"<tr><td>{escape(name)}</td>{''.join(cells)}</tr>")
    order = ("drift", "warning", "ok", "not compared", "not judged")
    legend = "".join(
        f'<span class="swatch" style="background:{STATUS_COLOURS.get(s, STATUS_COLOURS[None])}">'
        f"</span>{escape(s)} "
        for s in order
        if s in seen
    )
    return (
        f'<table class="status"><tr><th>feature</th>{head}</tr>{"".join(rows)}</table>'
        f'<p class="muted">columns: {escape(unit)}. {legend}</p>'
    )
