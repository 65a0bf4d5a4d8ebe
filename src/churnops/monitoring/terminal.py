"""The drift report in the terminal: one table per model version, sized to the console.

The table takes the console's width (the terminal's, or ``COLUMNS`` / 80 when the output is
not a terminal). When the statistics do not all fit, the least decisive columns are left out
(they stay in the JSON and HTML reports); a feature name is never cut: a name too long for
what is left wraps over several lines, at its underscores where it can.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from churnops.monitoring.narrative import drift_timing, next_steps
from churnops.monitoring.results import TABLE, DriftReport, GroupResult, Shown

STYLE: dict[str | None, str] = {
    "ok": "green",
    "warning": "yellow",
    "drift": "bold red",
    "not compared": "dim",
    None: "dim",
}
MAX_CHUNK_MARKS = 24  # wider chunk strips wrap
MIN_NAME_WIDTH = 8


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2g}"


def wrap_name(name: str, width: int) -> str:
    """``name`` on lines of at most ``width`` characters, broken after underscores where it
    can (``payment_method_`` / ``electronic_check_flag``), never shortened."""
    lines: list[str] = []
    line = ""
    for part in name.replace("_", "_\0").split("\0"):
        while len(part) > width:  # a part longer than a line is split where it must be
            if line:
                lines.append(line)
                line = ""
            lines.append(part[:width])
            part = part[width:]
        if len(line) + len(part) > width:
            lines.append(line)
            line = ""
        line += part
    return "\n".join([*lines, line] if line else lines)


def _table_width(widths: list[int]) -> int:
    """Columns plus one space of padding each side and the borders between them."""
    return sum(widths) + 3 * len(widths) + 1


def _columns(group: GroupResult, width: int) -> tuple[list[Shown], int]:
    """The statistics columns that fit beside the full names, and the width for names: the
    columns are left out lowest ``dropped`` first until the table fits, then any of them that
    still fits comes back."""
    rows = group.verdicts()
    cells = {s.label: [_fmt(s.value(e)) for e in rows.values()] for s in TABLE}
    stat_widths = {label: max(len(label), *map(len, values)) for label, values in cells.items()}
    status = max(len("status"), *(len(e.status) for e in rows.values()))
    marks = min(max(len(group.chunks), len("chunks")), MAX_CHUNK_MARKS)
    names = max(len("feature"), *map(len, rows))

    def width_of(columns: list[Shown], name_width: int) -> int:
        return _table_width([name_width, status, marks, *(stat_widths[c.label] for c in columns)])

    droppable = sorted((s for s in TABLE if s.dropped is not None), key=lambda s: s.dropped or 0)
    shown, left_out = list(TABLE), []
    for column in droppable:
        if width_of(shown, names) <= width:
            break
        shown.remove(column)
        left_out.append(column)
    for column in reversed(left_out):
        candidate = [s for s in TABLE if s in shown or s is column]
        if width_of(candidate, names) <= width:
            shown = candidate
    return shown, max(min(names, width - width_of(shown, 0)), MIN_NAME_WIDTH)


def group_table(group: GroupResult, width: int) -> Table:
    served = f"model v{group.model_version}" if group.model_version else "current file"
    title = (
        f"{served}: {group.rows:,} rows vs reference {group.reference.label} "
        f"({group.reference.sample_rows:,}-row sample)"
    )
    shown, name_width = _columns(group, width)
    table = Table(title=title)
    table.add_column("feature")
    table.add_column("status")
    for column in shown:
        table.add_column(column.label, justify="right", no_wrap=True)
    table.add_column("chunks", overflow="fold", max_width=MAX_CHUNK_MARKS)
    for name, entry in group.verdicts().items():
        marks = "".join(
            f"[{STYLE[v.status if (v := c.verdict(name)) else None]}]■[/]" for c in group.chunks
        )
        values = [_fmt(column.value(entry)) for column in shown]
        status = f"[{STYLE[entry.status]}]{entry.status}[/]"
        table.add_row(wrap_name(name, name_width), status, *values, marks)
    return table


def print_report(console: Console, report: DriftReport, explain: bool) -> None:
    """Tables, what was not compared, when drift started, what to do, the verdict; the rule
    itself only with ``explain``."""
    for group in report.groups:
        console.print(group_table(group, console.width))
        for name, entry in group.features.items():
            if not entry.compared:
                why = "; ".join(entry.reasons or ["no test could run"])
                console.print(f"[yellow]not compared[/] {name}: {why}", highlight=False)
        timing = drift_timing(group)
        if timing:
            console.print(f"[bold]when:[/] {timing}", highlight=False)
        for advice in next_steps(group, report.thresholds.alpha):
            console.print(
                f"[bold]next[/] {advice.name}: {advice.finding} — {'; '.join(advice.steps)}",
                highlight=False,
            )
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    verdict = "[bold red]DRIFT DETECTED[/]" if report.drift_detected else "[green]no drift[/]"
    drifting = report.with_status("drift")
    console.print(
        f"{verdict} — drift score {report.drift_score:.2f}"
        + (f"; drifting: {', '.join(drifting)}" if drifting else "")
    )
    if explain:
        console.print(f"[dim]{report.rule}[/]", highlight=False)
    else:
        console.print("[dim]how drift is decided: churnops drift --explain[/]", highlight=False)
