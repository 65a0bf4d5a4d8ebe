"""The experiment report in the terminal: the arms side by side in 80 columns, the difference
with its interval and p-value (one line each, never broken inside "p = …"), and the verdict
with its rule."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from churnops.experiments.results import Compared, Difference, ExperimentReport
from churnops.performance.results import NotEnough
from churnops.performance.terminal import metrics_table, print_legend, realised_cells

COLUMNS = ("arm", "v", "preds", "cov", "AUC", "interval", "prec", "recall", "F1", "Brier")
VERDICT_STYLE = {
    "challenger better": "bold green",
    "challenger worse": "bold red",
    "no detectable difference": "bold yellow",
    "not enough outcomes yet": "yellow",
}


def title(report: ExperimentReport) -> str:
    info = report.experiment
    mode = "shadow" if info.mode == "shadow" else f"A/B, {info.share:g} %" if info.share else "A/B"
    state = "running" if info.running else "stopped"
    return (
        f"experiment {info.id} ({mode}, {state}): champion v{info.champion}, challenger "
        f"v{info.challenger}"
    )


def arms_table(report: ExperimentReport) -> Table:
    table = metrics_table(title(report), COLUMNS)
    for arm in report.arms:
        cells = [
            arm.variant,
            f"v{arm.model_version}",
            f"{arm.predictions:,}",
            f"{arm.coverage:.0%}",
        ]
        table.add_row(*cells, *realised_cells(arm.realised))
    return table


def difference_line(found: Compared, what: str) -> str:
    if not isinstance(found, Difference):
        return f"{what}: {found.reason}"
    return (
        f"{what}: {found.difference:+.4f} ({found.level:.0%} interval {found.lower:+.4f} to "
        f"{found.upper:+.4f}, ±{(found.upper - found.lower) / 2:.4f}; p = {found.p_value:.2g}, "
        f"one look) — {found.method}"
    )


def print_experiment(console: Console, report: ExperimentReport) -> None:
    """The arms (with what "n/a" means when an arm shows it), the difference, notes, the
    verdict and its rule (always: a verdict is only as good as the rule that gave it)."""
    console.print(arms_table(report))
    lacking = [arm.realised for arm in report.arms if isinstance(arm.realised, NotEnough)]
    if lacking:
        print_legend(console, lacking[0].min_per_class)
    label = "paired" if report.experiment.mode == "shadow" else "unpaired"
    line = difference_line(report.difference, f"AUC difference, challenger − champion ({label})")
    console.print(line, highlight=False, soft_wrap=True)  # never a break inside "p = …"
    if report.unpaired is not None:
        unpaired = difference_line(report.unpaired, "the same rows compared unpaired")
        console.print(unpaired, highlight=False, soft_wrap=True)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    verdict = report.verdict
    style = VERDICT_STYLE[verdict.label]
    words = Text(verdict.words())
    words.highlight_words([verdict.label], style)
    console.print(Text.assemble("verdict: ", words))
    console.print(f"[dim]rule: {verdict.rule_text} Join: {report.join_rule}.[/]", highlight=False)
