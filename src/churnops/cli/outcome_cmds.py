"""``churnops labels import FILE`` (true outcomes into the store) and ``labels changes``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from churnops.cli.project_cmds import SchemaOpt
from churnops.cli.ui import HomeOpt, JsonOpt, console, print_json, settings_for
from churnops.monitoring.window import iso

if TYPE_CHECKING:
    from churnops.outcomes.importer import Imported

labels_app = typer.Typer(
    help="True outcomes (did the customer churn?), joined to the logged predictions.",
    no_args_is_help=True,
)


SUMMARY_ROWS = ("rows", "duplicates", "new", "changed", "unchanged", "unmatched")
SCORES_ROWS = ("matched_log", "matched_scores")  # with --scores: what the outcomes labelled

ScoresOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--scores",
        help="A `churnops score` output (file or folder) whose customers the outcomes label; "
        "repeatable",
    ),
]


def _summary(result: Imported, scores: list[Path]) -> dict[str, object]:
    """The import in numbers; with score files, how many outcomes labelled a logged and a
    batch-scored prediction (an outcome may label both)."""
    recorded = result.recorded
    summary: dict[str, object] = {
        "file": str(result.path),
        "rows": result.rows,
        "duplicates": result.duplicates,
        "new": recorded.new,
        "changed": recorded.changed,
        "unchanged": recorded.unchanged,
        "unmatched": recorded.unmatched,
        "first_unmatched": list(recorded.first_unmatched),
    }
    if scores:
        summary |= {
            "scores": [str(path) for path in scores],
            "matched_log": recorded.matched_log,
            "matched_scores": recorded.matched_scores,
        }
    return summary


@labels_app.command("import")
def import_labels(
    file: Annotated[
        Path,
        typer.Argument(help="CSV or Parquet: customer_id and/or request_id, outcome, observed_at"),
    ],
    home: HomeOpt = None,
    schema: SchemaOpt = None,
    scores: ScoresOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record outcomes; importing the same file again changes nothing, a corrected outcome
    replaces the old one (see `labels changes`). Any bad row: nothing is imported (exit 2).

    With --scores, an outcome also matches when it labels a customer of those batch scores
    (customer id, scored within the outcome window before it was observed)."""
    from churnops.outcomes.importer import import_outcomes
    from churnops.outcomes.store import open_outcome_store
    from churnops.workflow import project_schema

    settings = settings_for(home, schema_file=schema)
    store = open_outcome_store(settings.log_location, settings.outcome_window_days)
    result = import_outcomes(file, store, project_schema(settings), scores=scores or [])
    summary = _summary(result, scores or [])
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"Outcomes from {file}", show_header=False)
    for key in SUMMARY_ROWS + (SCORES_ROWS if scores else ()):
        table.add_row(key, f"{summary[key]:,}")
    console.print(table)
    recorded = result.recorded
    if recorded.unmatched:
        what = "logged or batch-scored" if scores else "logged"
        console.print(
            f"[yellow]{recorded.unmatched:,} outcome(s) label no {what} prediction[/] (first: "
            f"{', '.join(recorded.first_unmatched)}): stored, but they measure nothing; check "
            f"their ids and observed_at (a customer's predictions count up to "
            f"{settings.outcome_window_days:g} days before the outcome)",
            highlight=False,
        )


@labels_app.command("changes")
def changes(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Every corrected outcome: what it was, what it became, when and from where."""
    from churnops.outcomes.store import open_outcome_store

    settings = settings_for(home)
    found = open_outcome_store(settings.log_location, settings.outcome_window_days).changes()
    if as_json:
        print_json([asdict(change) for change in found])
        return
    if not found:
        console.print("no outcome has been corrected")
        return
    table = Table(title="Corrected outcomes")
    for column in ("request", "customer", "was", "now", "changed (UTC)", "source"):
        table.add_column(column)
    for change in found:
        table.add_row(
            change.request_id or "-",
            change.customer_id or "-",
            f"{change.old_outcome} at {iso(change.old_observed_at)}",
            f"{change.new_outcome} at {iso(change.new_observed_at)}",
            iso(change.changed_at),
            change.source,
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(labels_app, name="labels")
