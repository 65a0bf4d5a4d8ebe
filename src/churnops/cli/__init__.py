"""The ``churnops`` command line: one thin command per stage; the logic lives in the package."""

from __future__ import annotations

import sys

import typer

from churnops.cli import registry_cmds, stages
from churnops.cli.ui import err_console
from churnops.errors import ChurnopsError

app = typer.Typer(
    name="churnops",
    help="Churn-prediction MLOps toolkit: generate → prepare → train → serve → monitor.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stages.register(app)
registry_cmds.register(app)


def main() -> None:
    """Run the CLI; expected failures print one line and exit 1 (check failed) or 2 (bad input)."""
    try:
        app(standalone_mode=False)
    except ChurnopsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click usage errors carry their own exit code (2)
        from click.exceptions import ClickException

        if isinstance(exc, ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
