"""Commands for the registry: list / show / history, promote and rollback."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from churnops.cli.project_cmds import schema_table
from churnops.cli.ui import HomeOpt, JsonOpt, console, print_json, settings_for
from churnops.errors import BadInputError, CheckFailedError
from churnops.registry.entries import ModelVersion, parse_version
from churnops.registry.store import Registry, open_registry
from churnops.schema import FeatureSchema

registry_app = typer.Typer(help="Inspect the model registry.", no_args_is_help=True)
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why, for the audit history")]


def _auc(entry: ModelVersion) -> str:
    value = entry.metrics.get("roc_auc")
    return f"{value:.4f}" if isinstance(value, float) else "-"


def _versions_table(
    entries: list[ModelVersion], title: str, checks: list[str] | None = None
) -> Table:
    table = Table(title=title)
    for column in ("version", "created (UTC)", "ROC AUC", "F1", "status"):
        table.add_column(column, no_wrap=True)
    if checks is not None:
        table.add_column("verification")
    for index, entry in enumerate(entries):
        current = entry.status == "current"
        style = "bold green" if current else ("red" if entry.status == "rejected" else "")
        cells = [
            ("● " if current else "  ") + entry.name,
            entry.created_at.replace("T", " ").removesuffix("Z")[:16],
            _auc(entry),
            f"{entry.metrics['f1']:.4f}",
            entry.status,
        ]
        if checks is not None:
            cells.append(checks[index])
        table.add_row(*cells, style=style)
    return table


@registry_app.command("list")
def list_versions(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Every registered version; the current one is marked."""
    state = open_registry(settings_for(home)).read_synced()
    if as_json:
        print_json([v.model_dump(mode="json", exclude={"feature_schema"}) for v in state.versions])
    elif not state.versions:
        console.print("the registry is empty; run `churnops train`")
    else:
        console.print(_versions_table(state.versions, "Model registry"))


@registry_app.command("show")
def show(
    version: Annotated[str | None, typer.Argument(help="e.g. v2 [default: current]")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Everything recorded about one version."""
    registry = open_registry(settings_for(home))
    state = registry.read_synced()
    number = state.current_version if version is None else parse_version(version)
    if number is None:  # bad input (2), as in evaluate: no check failed, nothing to show
        if not state.versions:
            raise BadInputError("the registry is empty; run `churnops train` first")
        example = state.versions[-1].name
        raise BadInputError(
            f"no version is current; name one, e.g. `churnops registry show {example}`"
        )
    entry = registry.require(state, number)
    if as_json:
        print_json(entry.model_dump(mode="json"))
        return
    table = Table(title=f"{entry.name} ({entry.status})", show_header=False)
    for key, value in entry.model_dump(mode="json", exclude={"feature_schema", "metrics"}).items():
        table.add_row(key, str(value))
    for key, value in entry.metrics.items():
        table.add_row(f"metrics.{key}", f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(schema_table(FeatureSchema.model_validate(entry.feature_schema)))


@registry_app.command("history")
def history(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """The append-only audit log of every register / promote / rollback."""
    registry = open_registry(settings_for(home))
    registry.read_synced()
    events = registry.history()
    if as_json:
        print_json([e.model_dump(mode="json") for e in events])
        return
    table = Table(title="Registry history")
    for column in ("#", "time (UTC)", "action", "from", "to", "user", "reason"):
        table.add_column(column)
    for e in events:
        table.add_row(
            str(e.seq),
            e.time.replace("T", " ").removesuffix("Z"),
            e.action,
            f"v{e.from_version}" if e.from_version else "-",
            f"v{e.to_version}" if e.to_version else "-",
            e.user,
            e.reason,
        )
    console.print(table)


def promote(
    version: Annotated[str, typer.Argument(help="Version to make current, e.g. v3")],
    home: HomeOpt = None,
    reason: ReasonOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Allow a version the gate rejected")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Make a version current after checking its files, hash, loading and a smoke prediction."""
    from churnops.registry.promotion import switch

    settings = settings_for(home)
    previous, entry = switch(
        settings, "promote", parse_version(version), reason or "manual promotion", force
    )
    _switched("promoted", previous, entry, as_json, settings.database is None)


def rollback(
    to: Annotated[
        str | None,
        typer.Option("--to", help="Version to go back to [default: the previous current]"),
    ] = None,
    list_only: Annotated[bool, typer.Option("--list", help="Show the candidates and exit")] = False,
    home: HomeOpt = None,
    reason: ReasonOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Go back to the previously current version (or --to any version), after verifying it."""
    from churnops.registry.promotion import switch

    settings = settings_for(home)
    if list_only:
        _candidates(open_registry(settings), as_json)
        return
    target = None if to is None else parse_version(to)
    previous, entry = switch(settings, "rollback", target, reason or "manual rollback")
    _switched("rolled back to", previous, entry, as_json, settings.database is None)


def _candidates(registry: Registry, as_json: bool) -> None:
    from churnops.registry.promotion import verify

    state = registry.read()
    rows = []
    for entry in state.versions:
        if entry.status == "current":
            continue
        if entry.status == "rejected":
            rows.append((entry, "rejected by the gate (promote --force)"))
            continue
        try:
            verify(registry, entry)
            check = "ok"
        except CheckFailedError as exc:
            check = str(exc)
        rows.append((entry, check))
    if as_json:
        print_json(
            [
                {
                    "version": e.version,
                    "status": e.status,
                    "roc_auc": e.metrics.get("roc_auc"),
                    "check": c,
                }
                for e, c in rows
            ]
        )
        return
    if not rows:
        console.print("no other version to roll back to")
        return
    entries = [e for e, _ in rows]
    console.print(_versions_table(entries, "Rollback candidates", [c for _, c in rows]))


def _switched(
    verb: str, previous: ModelVersion | None, entry: ModelVersion, as_json: bool, files: bool
) -> None:
    """``files``: the registry is the home's files, whose pointer file names the current one."""
    if as_json:
        print_json(
            {
                "from": previous.version if previous else None,
                "to": entry.version,
                "file": entry.file,
            }
        )
    else:
        before = previous.name if previous else "none"
        pointer = "current_model.txt → " if files else ""
        console.print(f"[green]{verb} {entry.name}[/] (was {before}); {pointer}{entry.file}")


def register(app: typer.Typer) -> None:
    app.add_typer(registry_app, name="registry")
    app.command()(promote)
    app.command()(rollback)
