"""Commands for serving: ``serve`` (the prediction API) and ``logs export`` / ``logs stats``."""

from __future__ import annotations

import errno
import importlib.util
import os
import socket
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from churnops import logstore
from churnops.atomic import atomic_write
from churnops.cli.ui import HomeOpt, JsonOpt, console, print_json, settings_for
from churnops.database.url import DatabaseUrl
from churnops.errors import BadInputError, CannotServeError
from churnops.monitoring.window import parse_time
from churnops.settings import Settings
from churnops.spreadsheet import neutralise_formulas

logs_app = typer.Typer(help="Read the inference log (logs/inference.sqlite).", no_args_is_help=True)

SEED_CURL = """curl -X POST "http://{host}:{port}/predict" \\
  -H "Content-Type: application/json" \\
  -d '{{"tenure": 12, "monthly_charges": 65.5, "total_charges": 786.0,
       "contract_type": "Month-to-month", "payment_method": "Electronic check"}}'"""


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


GUARDED_HTTP = "churnops.serving.connections:GuardedHttpToolsProtocol"


def _event_loop() -> str:
    """uvloop when installed (uvicorn[standard]): with httptools, ~1.5x the requests/s."""
    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def require_free_port(host: str, port: int) -> None:
    """Refuse early, before the banner and its curl, when something already listens on the
    address: the curl would reach that other server. Only a taken port is refused here; the
    real bind by uvicorn still decides (and words anything else, such as an unknown host)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CannotServeError(
                f"port {port} on {host} is already in use: stop what uses it or pick another "
                "with --port"
            ) from None


def require_log_opens(log: Path | DatabaseUrl | None) -> None:
    """Refuse early, before the banner and any worker, a SQLite inference ``log`` that cannot
    be opened (``None``: logging off; the database's is not opened at start-up). Each worker
    would fail its start-up the same way, and with several uvicorn restarts them or stops with
    exit 0, depending on its version."""
    from churnops.serving.log_sinks import SqliteSink

    if isinstance(log, Path):
        sink = SqliteSink(log)
        sink.open()  # creates the log if new, as the first worker would
        sink.close()


def _banner(settings: Settings, loop: str) -> str:
    """What ``serve`` prints before it starts: lines that fit 80 columns (but for a long
    project path, never broken), then a curl to try that runs as printed."""
    url = f"http://{settings.host}:{settings.port}"
    return "\n".join(
        [
            f"serving {settings.home.resolve()}",
            f"  on {url} ({settings.workers} worker(s), {loop} + httptools)",
            f"  docs at {url}/docs — try:",
            SEED_CURL.format(host=settings.host, port=settings.port),
        ]
    )


def serve(
    home: HomeOpt = None,
    host: Annotated[str | None, typer.Option("--host", help="Bind address [127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port [8000]")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Processes, each hot-swapping on its own [1]")
    ] = None,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="debug, info, warning, error [warning]")
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="One line per request")
    ] = False,
) -> None:
    """Start the prediction API on the registry's current model (Ctrl-C stops it cleanly)."""
    import uvicorn

    from churnops.serving.worker_metrics import shared_folder

    settings = settings_for(home, host=host, port=port, workers=workers, log_level=log_level)
    require_free_port(settings.host, settings.port)
    require_log_opens(settings.log_location if settings.inference_log else None)
    # worker processes import churnops.api and read their settings from the environment
    os.environ["CHURNOPS_HOME"] = str(settings.home.resolve())
    loop = _event_loop()
    console.print(_banner(settings, loop), highlight=False, soft_wrap=True)  # paths unbroken
    # several workers: one scrape shows them all (Prometheus multiprocess mode, see the module)
    with shared_folder(settings.workers, settings.metrics_dir):
        uvicorn.run(
            "churnops.api:app",
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            access_log=access_log,
            loop=loop,
            http=GUARDED_HTTP,  # httptools + read deadlines and a connection cap (see the module)
            ws="none",
        )


def parse_when(text: str | None, option: str = "--since") -> float | None:
    """Epoch seconds from an ISO date/time, epoch seconds, or an age such as ``12h``."""
    return None if text is None else parse_time(text, time.time(), option)


SinceOpt = Annotated[
    str | None, typer.Option("--since", help="From (ISO time, epoch, or age: 30m, 12h, 7d)")
]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Up to, excluded (same forms)")]


def _read_window(
    home: Path | None, since: str | None, until: str | None, with_outcomes: bool = False
) -> pd.DataFrame:
    settings = settings_for(home)
    start, end = parse_when(since, "--since"), parse_when(until, "--until")
    if start is not None and end is not None and start >= end:
        raise BadInputError(f"--since ({since}) must be before --until ({until})")
    location = settings.log_location
    logstore.require(location)
    # every column: rows of versions with other feature schemas have NULL in the others'
    if not with_outcomes:
        frame = logstore.read(location, since=start, until=end, schema=None)
        return frame.assign(ts=pd.to_datetime(frame["ts"], unit="s", utc=True))
    from churnops.outcomes.store import open_outcome_store

    store = open_outcome_store(location, settings.outcome_window_days)
    fields = [name for name in logstore.stored_columns(location) if name != "id"]
    frame = store.predictions(fields, start, end).drop(columns="outcome_id")
    return frame.assign(
        ts=pd.to_datetime(frame["ts"], unit="s", utc=True),
        outcome_observed_at=pd.to_datetime(frame["outcome_observed_at"], unit="s", utc=True),
    )


@logs_app.command("export")
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write")],
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv or parquet")] = (
        ExportFormat.csv
    ),
    with_outcomes: Annotated[
        bool,
        typer.Option(
            "--with-outcomes", help="Add each prediction's true outcome (empty: none yet)"
        ),
    ] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the logged predictions of a time window to CSV or Parquet (ts in UTC)."""
    frame = _read_window(home, since, until, with_outcomes)
    if fmt is ExportFormat.csv:  # for spreadsheets: cells that would run as formulas made inert
        people = neutralise_formulas(frame)
        atomic_write(
            output, lambda tmp: people.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
        )
    else:
        atomic_write(output, lambda tmp: frame.to_parquet(tmp, index=False))
    summary = {"rows": len(frame), "output": str(output), "format": fmt.value}
    if as_json:
        print_json(summary)
    else:
        console.print(f"wrote {len(frame):,} rows to {output}")


@logs_app.command("prune")
def prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age (90d, 12w) or ISO time: remove what is older")
    ],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove the predictions logged before a cutoff (in PostgreSQL: whole days, by dropping
    their partitions; a day partly newer than the cutoff is kept)."""
    settings = settings_for(home)
    before = parse_time(older_than, time.time(), "--older-than")
    removed = logstore.prune(settings.log_location, before)
    summary = {"removed_rows": removed, "before": before, "log": str(settings.log_location)}
    if as_json:
        print_json(summary)
    else:
        console.print(f"removed {removed:,} rows logged before {older_than} from {summary['log']}")


@logs_app.command("stats")
def stats(
    since: SinceOpt = None,
    until: UntilOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How many predictions were logged, when, by which model version, and how fast."""
    frame = _read_window(home, since, until)
    summary: dict[str, Any] = {"rows": len(frame)}
    if len(frame):
        summary |= {
            "first": frame["ts"].min().isoformat(),
            "last": frame["ts"].max().isoformat(),
            "by_model_version": {
                f"v{k}": int(v)
                for k, v in frame["model_version"].value_counts().sort_index().items()
            },
            "churn_rate": float(frame["decision"].mean()),
            "mean_probability": float(frame["probability"].mean()),
            "latency_ms_p50": float(frame["latency_ms"].quantile(0.5)),
            "latency_ms_p99": float(frame["latency_ms"].quantile(0.99)),
        }
    if as_json:
        print_json(summary)
        return
    table = Table(title="Inference log", show_header=False)
    for key, value in summary.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(logs_app, name="logs")
