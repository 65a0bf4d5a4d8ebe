"""Terminal output shared by the commands: rich consoles, options, JSON output and progress."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from churnops.settings import Settings, load_settings

console = Console()
err_console = Console(stderr=True)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="Project folder (env CHURNOPS_HOME, default: current folder)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON")]


def settings_for(home: Path | None, **overrides: Any) -> Settings:
    return load_settings(home=home, **overrides)


def print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str, ensure_ascii=False))


@contextmanager
def progress(enabled: bool = True) -> Iterator[Progress]:
    """A progress display on stderr, so ``--json`` output on stdout stays clean."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True, disable=not enabled) as bar:
        yield bar


@contextmanager
def step(bar: Progress, description: str) -> Iterator[None]:
    task = bar.add_task(description, total=None)
    try:
        yield
    finally:
        bar.remove_task(task)
