"""The project file on the command line: ``init`` drafts ``churnops.yaml`` from a CSV, the
``--schema`` option, and the schema's table (``registry show``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from churnops.cli.ui import HomeOpt, JsonOpt, console, print_json, progress, settings_for, step

if TYPE_CHECKING:
    from churnops.data.infer import Draft
    from churnops.schema import FeatureSchema

SchemaOpt = Annotated[
    Path | None,
    typer.Option(
        "--schema",
        help="Project file declaring the data (env CHURNOPS_SCHEMA) [default: churnops.yaml in "
        "the home if it exists, else the built-in schema]",
    ),
]
MAX_LISTED = 4


def init(
    from_path: Annotated[Path, typer.Option("--from", help="CSV of your customers to describe")],
    label: Annotated[
        str | None, typer.Option("--label", help="The churn label column [default: guessed]")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="The customer id column [default: guessed]")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file")] = False,
    home: HomeOpt = None,
    schema: SchemaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Draft churnops.yaml from a CSV: feature types, ranges and categories, for you to review."""
    from churnops.atomic import atomic_write_text, refuse_to_replace
    from churnops.data.infer import draft_project, render, schema_of
    from churnops.project import project_path

    settings = settings_for(home, starts_project=True, schema_file=schema)
    target = project_path(settings.schema_file, settings.home)
    if target.exists() and not force:
        raise refuse_to_replace(target, "review it")
    with progress(not as_json) as bar, step(bar, f"reading {from_path}"):
        draft = draft_project(from_path, label, id_column)
        text = render(draft)
        schema_of(text)  # the draft must read back as a valid project file
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, text)
    if as_json:
        print_json(_draft_json(draft, target))
        return
    console.print(_decisions_table(draft))
    for rule in draft.rules:
        first, second = rule.factors
        console.print(f"rule: {rule.result} ≈ {first} × {second} ({rule.share:.1%} of rows)")
    console.print(
        f"wrote {target}: {len(draft.features)} features. Review it, then run "
        f"`churnops prepare --input {from_path}` and `churnops train`.",
        highlight=False,
    )


def _draft_json(draft: Draft, target: Path) -> dict[str, object]:
    return {
        "file": str(target),
        "rows": draft.rows,
        "columns": [
            {"column": d.column, "role": d.role, "name": d.name or None, "why": d.why}
            for d in draft.decisions
        ],
        "rules": [f"{r.result} ≈ {r.factors[0]} × {r.factors[1]}" for r in draft.rules],
    }


def _decisions_table(draft: Draft) -> Table:
    table = Table(title=f"{draft.source.name}: {draft.rows:,} rows")
    for column in ("CSV column", "feature", "type", "why"):
        table.add_column(column, overflow="fold")
    for decision in draft.decisions:
        role = decision.role
        style = "dim" if role == "left out" else ("bold" if role in ("label", "id") else "")
        table.add_row(decision.column, decision.name or "-", role, decision.why, style=style)
    return table


def schema_table(schema: FeatureSchema) -> Table:
    """What a version's schema declares: features, their types, allowed values and columns."""
    table = Table(title=f"Feature schema: {len(schema.feature_names)} features")
    for column in ("feature", "type", "allowed", "CSV column"):
        table.add_column(column, overflow="fold")
    for num in schema.numeric:
        allowed = f"{num.min:g} to {num.max:g}"
        table.add_row(num.name, num.kind, allowed, num.column or num.name)
    for cat in schema.categorical:
        shown = ", ".join(cat.categories[:MAX_LISTED])
        more = len(cat.categories) - MAX_LISTED
        allowed = shown + (f" (+{more} more)" if more > 0 else "")
        table.add_row(cat.name, "categorical", allowed, cat.column or cat.name)
    table.add_row(schema.id_column, "id", "", schema.id_source or schema.id_column)
    label = schema.label_values
    churned = f"churned: {', '.join(label.churned)}; stayed: {', '.join(label.stayed)}"
    table.add_row(schema.label, "label", churned, schema.label_source or schema.label)
    for rule in schema.rules:
        first, second = rule.factors
        check = f"within {rule.tolerance:.0%}" + (", imputed" if rule.impute else "")
        table.add_row(f"{rule.result} ≈ {first} × {second}", "rule", check, "")
    return table


def register(app: typer.Typer) -> None:
    app.command()(init)
