"""``churnops db``: the shared PostgreSQL store's schema (CHURNOPS_DATABASE_URL)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from churnops.cli.ui import JsonOpt, console, print_json, settings_for
from churnops.database.url import DatabaseUrl
from churnops.errors import BadInputError

db_app = typer.Typer(
    help="The shared PostgreSQL store named by CHURNOPS_DATABASE_URL.", no_args_is_help=True
)


def _url() -> DatabaseUrl:
    url = settings_for(None).database
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
        Path, typer.Option("--from", help="Project folder whose file registry to copy in")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Copy a project's file registry (versions, history, artifacts) into the empty database;
    running it again changes nothing. The inference log and outcomes stay in their SQLite file."""
    from churnops.registry.postgres import PostgresRegistry
    from churnops.registry.store import Registry

    url = _url()
    files = Registry(settings_for(source, database_url=""))
    if not files.metadata_path.exists():
        raise BadInputError(f"{source} has no registry ({files.metadata_path} is missing)")
    target = PostgresRegistry(settings_for(source), url)
    done = target.import_from(files)
    if as_json:
        print_json({"database": str(url), **dataclasses.asdict(done)})
    elif done.already:
        console.print(f"{url} already holds this registry ({done.versions} versions): unchanged")
    else:
        console.print(
            f"imported {done.versions} versions, {done.events} history events and "
            f"{done.artifacts} artifact files into {url}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
