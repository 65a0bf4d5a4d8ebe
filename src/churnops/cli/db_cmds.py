"""``churnops db``: the shared PostgreSQL store's schema (CHURNOPS_DATABASE_URL)."""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from churnops.cli.ui import JsonOpt, console, err_console, print_json, progress, rows_bar
from churnops.database.url import DatabaseUrl
from churnops.entry import INTERRUPTED
from churnops.errors import BadInputError
from churnops.settings import load_settings

if TYPE_CHECKING:
    from churnops.database import home_import

db_app = typer.Typer(
    help="The shared PostgreSQL store named by CHURNOPS_DATABASE_URL.", no_args_is_help=True
)


def _url() -> DatabaseUrl:
    url = load_settings().database  # the home is not used
    if url is None:
        raise BadInputError(
            "CHURNOPS_DATABASE_URL is not set: set it to "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE (without it, churnops keeps its "
            "data in files under --home and needs no database)"
        )
    return url


@db_app.command("upgrade")
def upgrade(as_json: JsonOpt = False) -> None:
    """Create or upgrade the database's tables to this churnops's schema version."""
    from churnops.database import migrations

    url = _url()
    done = migrations.upgrade(url)
    if as_json:
        print_json({"database": str(url), **dataclasses.asdict(done)})
        return
    if done.before == done.after:
        console.print(f"{url}: schema version {done.after}, up to date")
    else:
        console.print(f"{url}: schema version {done.before} → {done.after}")
    if done.recreated_registry:
        console.print("re-created the registry's deleted row (the registry was empty)")


@db_app.command("status")
def status(as_json: JsonOpt = False) -> None:
    """The database's schema version and this churnops's; exit 1 when they differ."""
    from churnops.database import connection, migrations

    url = _url()
    with connection.connect(url) as conn:
        stored = migrations.stored_version(conn)
    if as_json:
        print_json({"database": str(url), "version": stored, "code": migrations.latest()})
    else:
        console.print(f"{url}: schema version {stored} (this churnops: {migrations.latest()})")
    if stored != migrations.latest():
        raise typer.Exit(1)


@db_app.command("import")
def import_home(
    source: Annotated[
        Path, typer.Option("--from", help="Project folder whose registry and log to copy in")
    ],
    registry_only: Annotated[
        bool, typer.Option("--registry-only", help="Copy the registry only (a home never served)")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Copy a project's file registry (versions, history, artifacts), inference log and outcomes
    into the database, each verified (counts, SHA-256 / checksums) and whole or not at all.
    Running it again copies nothing; a log that grew since copies only its new rows. Ctrl-C
    says which of the two was imported."""
    from churnops.database import home_import
    from churnops.registry.postgres import PostgresRegistry
    from churnops.registry.store import Registry

    url = _url()
    home = load_settings(home=source, database_url="")  # --from, checked below
    files = Registry(home)
    if not files.metadata_path.exists():
        raise BadInputError(f"{source} has no registry ({files.metadata_path} is missing)")
    rerun = f"churnops db import --from {shlex.quote(str(source))}"
    rerun += " --registry-only" if registry_only else ""
    again = f"run `{rerun}` again to finish"
    with _on_ctrl_c(f"nothing was imported (the registry is copied whole or not at all); {again}"):
        log = None if registry_only else home_import.plan(home.inference_db, url)
        done = PostgresRegistry(load_settings(home=source), url).import_from(files)
    with _on_ctrl_c(
        "the registry was imported; the inference log was not (none of its rows were written: "
        f"they are copied whole or not at all); {again} (it copies only what is missing)"
    ):
        tables = [] if log is None else _import_log(log, url, as_json)
    if as_json:
        print_json(
            {
                "database": str(url),
                **dataclasses.asdict(done),
                "tables": [dataclasses.asdict(table) for table in tables],
            }
        )
        return
    if done.already:
        summary = f"{url} already held this registry ({done.versions} versions)"
    else:
        summary = (
            f"imported {done.versions} versions, {done.events} history events and "
            f"{done.artifacts} artifact files into {url}"
        )
    if log is not None:
        copied = ", ".join(f"{t.table} {t.copied:,} of {t.rows:,}" for t in tables)
        summary += f"; copied {copied} rows of {log.path} (counts and checksums verified)"
    console.print(summary, soft_wrap=True)


@contextmanager
def _on_ctrl_c(done: str) -> Iterator[None]:
    """Ctrl-C in the block: one line saying what was ``done`` (and what not), exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        err_console.print(f"interrupted: {escape(done)}", highlight=False, soft_wrap=True)
        raise typer.Exit(INTERRUPTED) from None


def _import_log(
    log: home_import.LogPlan, url: DatabaseUrl, as_json: bool
) -> list[home_import.TableImported]:
    with progress(not as_json) as bar:
        copied = rows_bar(bar, "copying", log.rows)
        checked = rows_bar(bar, "checking", log.rows)
        from churnops.database.home_import import import_log

        return import_log(log, url, copied, checked)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
