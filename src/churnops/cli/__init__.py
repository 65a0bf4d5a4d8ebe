"""The ``churnops`` command line: one thin command per stage; the logic lives in the package."""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperOption

from churnops import __version__
from churnops.cli import (
    db_cmds,
    drift_cmds,
    experiment_cmds,
    outcome_cmds,
    performance_cmds,
    project_cmds,
    registry_cmds,
    score_cmds,
    serve_cmds,
    stages,
)
from churnops.cli.ui import err_console
from churnops.errors import ChurnopsError
from churnops.settings import load_settings


def _flags_show_no_type() -> None:
    """Help lists a flag (``--json``, ``--list``, ``--help``) without a value type: typer's
    help panel shows ``<bool>`` after it, as if it took a value (``--json true`` is an error).
    Options that take a value keep theirs (``--port <int>``)."""
    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None:  # a typer that never shows a flag's type
        return

    def display_type_rich(option: TyperOption, ctx: Any) -> str | None:
        return None if option.is_flag else shown(option, ctx)

    setattr(TyperOption, "display_type_rich", display_type_rich)  # noqa: B010 (mypy refuses `=`)


_flags_show_no_type()

app = typer.Typer(
    name="churnops",
    help="Churn-prediction MLOps toolkit: generate → prepare → train → serve → monitor.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"churnops {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    context: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version"
    ),
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Project folder (env CHURNOPS_HOME, default: current folder): `churnops "
            "--home DIR COMMAND` is `churnops COMMAND --home DIR`; a --home after the command "
            "wins over this one",
        ),
    ] = None,
) -> None:
    """Churn-prediction MLOps toolkit: generate → prepare → train → serve → monitor."""
    if home is not None:
        context.default_map = _home_of_every_command(context.command, home)


def _home_of_every_command(command: Any, home: Path) -> dict[str, Any]:
    """``home`` as the default of every command's --home, in click's defaults by command name
    (a group's by its commands' names): the command's own --home, when given, wins."""
    commands = getattr(command, "commands", None)
    if commands is None:
        return {"home": home}
    return {name: _home_of_every_command(sub, home) for name, sub in commands.items()}


project_cmds.register(app)
stages.register(app)
registry_cmds.register(app)
drift_cmds.register(app)
serve_cmds.register(app)
outcome_cmds.register(app)
performance_cmds.register(app)
experiment_cmds.register(app)
score_cmds.register(app)
db_cmds.register(app)


def _reflowed(text: str) -> str:
    """``text`` with each paragraph on one line, for the terminal to wrap: typer's rich help
    keeps a docstring's line breaks inside a paragraph, so the command list broke a description
    where its source line ended, whatever the terminal's width."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _reflow_help(group: typer.Typer) -> None:
    """Every command's help (its docstring unless given) reflowed, in sub-groups too."""
    for info in group.registered_commands:
        text = info.help or inspect.getdoc(info.callback)
        if text:
            info.help = _reflowed(text)
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _reflow_help(sub.typer_instance)


_reflow_help(app)


def _run_alone(name: str) -> None:
    """The command ``name`` on the script's arguments, its help and usage line naming the script
    (``Usage: train.py [OPTIONS]``), not ``churnops`` plus a command typed nobody typed."""
    command = typer.main.get_group(app).commands[name]
    command.main(args=sys.argv[1:], prog_name=os.path.basename(sys.argv[0]))


def _missing_extra(module: str | None) -> str:
    """A command whose libraries this install lacks: a serving install (churnops[serve]) has
    no training libraries, a training one no web server."""
    return (
        f"this command needs the {module} package, which is not installed: "
        "pip install 'churnops[train]' (prepare, train, evaluate, drift) or "
        "'churnops[serve]' (the API), or 'churnops[all]'"
    )


def main(command: str | None = None) -> None:
    """Run the CLI; expected failures print one line and exit 1 (check failed) or 2 (bad input).

    Usage errors are typer's own (exit 2 with the usage line). With ``command``, run that one
    command alone (the lab scripts: ``python src/train.py`` is ``churnops train``).
    """
    try:
        if command is None:
            app()
        else:
            _run_alone(command)
    except ChurnopsError as exc:
        # escaped: the message names paths and values as given ("[b]" is not markup there)
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(exc.exit_code)
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("churnops"):
            raise
        message = escape(_missing_extra(exc.name))
        err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except OSError as exc:  # unwritable folder, full disk, …: the system's words, no traceback
        # a failed rename names its target second: the path the user gave, not our temporary
        named = exc.filename2 or exc.filename
        message = escape(f"{exc.strerror or exc}" + (f" ({named})" if named else ""))
        err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except Exception as exc:
        refusal = _database_failure(exc)
        if refusal is None:
            raise
        err_console.print(f"[bold red]error:[/] {escape(refusal)}", highlight=False, soft_wrap=True)
        sys.exit(2)


def _database_failure(exc: Exception) -> str | None:
    """One line for an error the database raised that no command words itself (a permission
    it lacks, a table changed by hand, a sequence run out), or None for anything else. The
    driver is looked up, not imported: if it was never loaded, the error cannot be its."""
    driver = sys.modules.get("psycopg")
    if driver is None or not isinstance(exc, driver.Error):
        return None
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    state = f" [SQLSTATE {exc.sqlstate}]" if getattr(exc, "sqlstate", None) else ""
    named = _database()
    return (
        f"the database{f' {named}' if named else ''} refused this ({first}){state}; check the "
        "role's rights and the schema with `churnops db status`"
    )


def _database() -> str:
    """The database the commands use (CHURNOPS_DATABASE_URL, the only one a command connects
    to), shown without its password; "" if it cannot be told."""
    try:
        return str(load_settings().database or "")
    except ChurnopsError:
        return ""
