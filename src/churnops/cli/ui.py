"""Terminal output shared by the commands: rich consoles, options, JSON output and progress."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from churnops.settings import Settings, env_name, load_settings

console = Console()
err_console = Console(stderr=True)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="Project folder (env CHURNOPS_HOME, default: current folder)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON")]


def settings_for(home: Path | None, *, starts_project: bool = False, **overrides: Any) -> Settings:
    """The command's settings: its ``--home`` (else CHURNOPS_HOME) and ``overrides`` over the
    environment; a project folder that does not exist is refused (``check_project_folder``)
    unless the command ``starts_project`` there (it creates the folder)."""
    settings = load_settings(home=home, **overrides)
    if not starts_project:
        settings.check_project_folder(set_by(home, "--home", "home"))
    return settings


def set_by(value: object, option: str, setting: str) -> str:
    """What set a setting, for messages: its option when given, else its variable."""
    return option if value is not None else env_name(setting)


def print_path(label: str, path: Path) -> None:
    """``label: PATH`` on a line of its own, for a file a command wrote: with soft_wrap, so the
    path is never broken however narrow the terminal (a long line is the terminal's to fold,
    and stays one to copy)."""
    console.print(f"{label}: {path}", highlight=False, markup=False, soft_wrap=True)


def print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str, ensure_ascii=False))


@contextmanager
def progress(enabled: bool = True) -> Iterator[Progress]:
    """A progress display on stderr, so ``--json`` output on stdout stays clean; off when
    stderr is not a terminal (pipes, CI), where it would only leave blank lines."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    shown = enabled and err_console.is_terminal
    with Progress(*columns, console=err_console, transient=True, disable=not shown) as bar:
        yield bar


def tuning_bar(bar: Progress) -> Callable[[int, int], None]:
    """A callback that shows cross-validation candidates done as a filling bar."""
    task = bar.add_task("tuning", total=None, visible=False)

    def advance(done: int, total: int) -> None:
        description = f"tuning: {done}/{total} candidates cross-validated"
        bar.update(task, completed=done, total=total, description=description, visible=True)

    return advance


def rows_bar(bar: Progress, description: str, total: int | None) -> Callable[[int], None]:
    """A callback that counts rows done, shown with their rate (rows/s)."""
    task = bar.add_task(description, total=total)
    started = time.perf_counter()
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        rate = done / max(time.perf_counter() - started, 1e-9)
        text = f"{description}: {done:,} rows, {rate:,.0f} rows/s"
        bar.update(task, completed=done, description=text)

    return advance


@contextmanager
def step(bar: Progress, description: str) -> Iterator[None]:
    task = bar.add_task(description, total=None)
    try:
        yield
    finally:
        bar.remove_task(task)
