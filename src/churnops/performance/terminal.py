"""The performance report in the terminal: one table per version, its periods, the whole
window and the hold-out at training time, in 80 columns."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from churnops.performance.results import (
    HoldOut,
    Measured,
    NotEnough,
    PerformanceReport,
    VersionPerformance,
    period_labels,
    sources,
)

COLUMNS = ("period", "preds", "cov", "AUC", "interval", "prec", "recall", "F1", "Brier")
STYLE = {True: "bold red", False: "green", None: "dim"}


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _count(value: int) -> str:
    return f"{value / 1000:.0f}k" if value >= 100_000 else f"{value:,}"


def realised_cells(result: Measured | NotEnough) -> list[str]:
    if isinstance(result, NotEnough):
        return ["n/a", f"{result.churned}/{result.stayed}", "", "", "", ""]
    auc = result.auc
    return [
        _number(auc.auc),
        f"{auc.lower:.2f}–{auc.upper:.2f}",
        _number(result.precision, 2),
        _number(result.recall, 2),
        _number(result.f1, 2),
        _number(result.brier),
    ]


def _holdout_cells(holdout: HoldOut) -> list[str]:
    return [
        "hold-out",
        _count(holdout.rows),
        "",
        _number(holdout.roc_auc),
        "",
        _number(holdout.precision, 2),
        _number(holdout.recall, 2),
        _number(holdout.f1, 2),
        _number(holdout.brier),
    ]


def metrics_table(title: str, columns: tuple[str, ...]) -> Table:
    """A compact table (two spaces between columns, no borders) for 80 columns: the first
    column names the row, the others are right-aligned numbers."""
    table = Table(
        title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True
    )
    for index, column in enumerate(columns):
        table.add_column(column, justify="right" if index else "left", no_wrap=True)
    return table


def version_table(version: VersionPerformance) -> Table:
    name = "every version" if version.model_version is None else f"v{version.model_version}"
    title = (
        f"{name}: {version.predictions:,} predictions{sources(version)}, "
        f"{version.labelled:,} with an outcome"
    )
    table = metrics_table(title, COLUMNS)
    for when, period in zip(period_labels(version.periods), version.periods, strict=True):
        cells = [when, _count(period.predictions), f"{period.coverage:.0%}"]
        table.add_row(*cells, *realised_cells(period.realised), style=STYLE[period.degraded])
    table.add_section()
    whole = ["all", _count(version.predictions), f"{version.coverage:.0%}"]
    table.add_row(*whole, *realised_cells(version.realised), style="bold")
    if version.holdout is not None:
        table.add_row(*_holdout_cells(version.holdout), style="cyan")
    return table


def print_legend(console: Console, minimum: int) -> None:
    """What a metrics table's "n/a" row (churned/stayed counts) and "cov" column mean."""
    console.print(
        f"[dim]n/a: not enough outcomes yet (churned/stayed shown; at least {minimum} "
        "of each are needed for a number); cov: share of predictions with an outcome[/]",
        highlight=False,
    )


def print_performance(console: Console, report: PerformanceReport, explain: bool) -> None:
    """Tables, what "n/a" means, findings, the verdict; the rule itself only with ``explain``."""
    lacking = False
    for version in report.versions:
        console.print(version_table(version))
        lacking = lacking or any(isinstance(p.realised, NotEnough) for p in version.periods)
        if version.finding:
            console.print(f"[bold red]degraded[/] {version.finding}", highlight=False)
    if lacking:
        print_legend(console, report.settings.min_per_class)
    if report.scores:
        console.print(f"[dim]batch scores: {', '.join(report.scores)}[/]", highlight=False)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)  # commands
    if report.degraded:
        console.print("[bold red]PERFORMANCE DEGRADED[/]")
    elif any(isinstance(v.realised, Measured) for v in report.versions):
        console.print("[green]no degradation[/]: realised AUC in line with the hold-out")
    else:
        console.print("[yellow]not enough outcomes yet[/] to judge any version")
    if explain:
        console.print(f"[dim]{report.rule} Join: {report.join_rule}.[/]", highlight=False)
    else:
        console.print("[dim]how it is measured: churnops performance --explain[/]")
