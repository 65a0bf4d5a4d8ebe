"""``churnops drift`` (judge the inference log or a file) and ``churnops simulate`` (traffic)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from churnops.atomic import atomic_write, atomic_write_text
from churnops.cli.project_cmds import SchemaOpt
from churnops.cli.ui import (
    HomeOpt,
    JsonOpt,
    console,
    err_console,
    print_json,
    print_path,
    progress,
    set_by,
    settings_for,
    step,
)
from churnops.errors import BadInputError, CheckFailedError
from churnops.monitoring.shifts import SHIFTS

if TYPE_CHECKING:  # the statistics stack is imported inside the commands, for a fast start
    import pandas as pd

    from churnops.monitoring.run import DriftRun
    from churnops.monitoring.simulate import SimulationResult
from churnops.registry.entries import parse_version


def _show(run: DriftRun, explain: bool) -> None:
    from churnops.monitoring.terminal import print_report

    print_report(console, run.report, explain)
    print_path("report", run.json_path)
    if run.html_path:
        print_path("html", run.html_path)
    if not run.latest_path:
        console.print("(ad-hoc run: the API's drift gauges were left as they were)")


def drift(
    home: HomeOpt = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Start: ISO date-time (UTC) or a duration ago (2h)"),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="End: ISO date-time (UTC) or a duration ago")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--last", help="The last 24h (a duration) or the last N rows")
    ] = None,
    current: Annotated[
        Path | None, typer.Option("--current", help="Judge this CSV instead of the log")
    ] = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", help="Reference CSV instead of the registry")
    ] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", help="Only rows served by vN (with --current: vN's reference)"),
    ] = None,
    schema: Annotated[
        Path | None,
        typer.Option(
            "--schema",
            help="Project file for --current FILE with --reference FILE (env CHURNOPS_SCHEMA); "
            "otherwise each model version's own schema is used",
        ),
    ] = None,
    chunk: Annotated[
        str | None, typer.Option("--chunk", help="Chunks over time: auto, 1h, 1d or N rows")
    ] = None,
    as_json: JsonOpt = False,
    html: Annotated[bool, typer.Option("--html", help="Also write an HTML report")] = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Also print how drift is decided (the rule)")
    ] = False,
    html_out: Annotated[
        Path | None, typer.Option("--html-out", help="HTML report path (implies --html)")
    ] = None,
    alert_webhook: Annotated[
        str | None, typer.Option("--alert-webhook", help="POST a JSON summary here on drift")
    ] = None,
    alpha: Annotated[
        float | None, typer.Option("--alpha", help="Holm family-wise α [0.05]")
    ] = None,
    psi_floor: Annotated[float | None, typer.Option("--psi-floor", help="PSI drift [0.2]")] = None,
    psi_warning: Annotated[
        float | None, typer.Option("--psi-warning", help="PSI warning [0.1]")
    ] = None,
    wasserstein_floor: Annotated[
        float | None, typer.Option("--wasserstein-floor", help="Wasserstein/std drift [0.1]")
    ] = None,
    mean_change_floor: Annotated[
        float | None,
        typer.Option(
            "--mean-change-floor", help="Relative mean change, money and counts: drift [0.05]"
        ),
    ] = None,
    js_floor: Annotated[
        float | None, typer.Option("--js-floor", help="Jensen–Shannon drift [0.1]")
    ] = None,
    unseen_share: Annotated[
        float | None, typer.Option("--unseen-share", help="Unseen-category share drift [0.01]")
    ] = None,
    missing_rate_change: Annotated[
        float | None, typer.Option("--missing-rate-change", help="Missing-rate change [0.05]")
    ] = None,
    drift_share: Annotated[
        float | None, typer.Option("--drift-share", help="Share of features for overall [0.2]")
    ] = None,
) -> None:
    """Compare current data with the reference of the model version that served it, read
    and judged with that version's feature schema.

    Exit 0: no drift; 1: drift detected; 2: bad input (e.g. no log rows in the window).
    """
    from churnops.monitoring.run import DriftOptions, run_drift

    settings = settings_for(
        home,
        schema_file=schema,
        drift_chunk=chunk,
        drift_alpha=alpha,
        drift_psi_floor=psi_floor,
        drift_psi_warning=psi_warning,
        drift_wasserstein_floor=wasserstein_floor,
        drift_mean_change_floor=mean_change_floor,
        drift_js_floor=js_floor,
        drift_unseen_share=unseen_share,
        drift_missing_rate_change=missing_rate_change,
        drift_share=drift_share,
    )
    options = DriftOptions(
        since=since,
        until=until,
        last=last,
        current=current,
        reference=reference,
        version=None if version is None else parse_version(version),
        html=html,
        html_path=html_out,
        alert_webhook=alert_webhook,
        chunk_option=set_by(chunk, "--chunk", "drift_chunk"),
    )
    with progress(not as_json) as bar, step(bar, "comparing with the reference"):
        run = run_drift(settings, options)
    if as_json:
        payload = run.report.to_json()
        payload["report_path"] = str(run.json_path)
        payload["html_path"] = str(run.html_path) if run.html_path else None
        payload["latest_path"] = str(run.latest_path) if run.latest_path else None
        payload["alert"] = run.alert.as_dict() if run.alert else None
        print_json(payload)
    else:
        _show(run, explain)
    if run.alert is not None:
        if run.alert.sent:
            err_console.print(f"alert sent to {alert_webhook}")
        else:
            err_console.print(f"[bold red]alert not delivered:[/] {run.alert.error}")
    if run.report.drift_detected:
        raise typer.Exit(1)


def _simulation_cell(value: object) -> str:
    """A value of the simulation summary as words: counts by key as 'v1: 10,082, v2: 9,918',
    nothing (no refusal, no count, no timing) as a dash, not as Python's dict or None."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_simulation_cell(n)}" for key, n in value.items()) or "—"
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _simulation_table(result: SimulationResult, url: str, shift: str) -> Table:
    """The summary, one row a key; the URL and the shift are rows too, so the short title
    fits within the table (as the whole sentence did not: it wrapped, breaking the URL). The
    first refusal's body is printed below the table (``_show_simulation``): in its cell it
    wrapped over several lines."""
    summary = {"url": url, "shift": shift, **result.as_dict()}
    if result.first_refusal is not None:
        summary["first_refusal"] = "below the table"
    table = Table(title="Traffic sent", show_header=False)
    for key, value in summary.items():
        table.add_row(key, _simulation_cell(value))
    return table


def _show_simulation(result: SimulationResult, url: str, shift: str) -> None:
    """The summary table, then the first refusal (status and body) on a line of its own, with
    soft_wrap: the terminal folds it, and it stays one line to copy."""
    console.print(_simulation_table(result, url, shift))
    if result.first_refusal is not None:
        shown = f"first refusal: {result.first_refusal}"
        console.print(shown, highlight=False, markup=False, soft_wrap=True)


def _write_rows(frame: pd.DataFrame, out: Path, source: str, shift: str, as_json: bool) -> None:
    atomic_write_text(out, frame.to_csv(index=False))
    if as_json:
        print_json({"rows": len(frame), "shift": shift, "source": source, "out": str(out)})
    else:
        shown = f"wrote {len(frame):,} rows from {source} (shift: {shift}) to {out}"
        console.print(shown, highlight=False, soft_wrap=True)  # never a break inside the path


def simulate(
    home: HomeOpt = None,
    url: Annotated[str, typer.Option("--url", help="API base URL")] = "http://127.0.0.1:8000",
    rows: Annotated[int, typer.Option("--rows", min=1, help="Customers to send")] = 1_000,
    shift: Annotated[
        str, typer.Option("--shift", help=f"none or one of: {', '.join(SHIFTS)}")
    ] = "none",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated customers")] = 7,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256)] = 8,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", min=1, max=10_000, help="1: POST /predict; N: /predict/batch"),
    ] = 1,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the rows to this CSV instead of sending them"),
    ] = None,
    schema: SchemaOpt = None,
    outcomes: Annotated[
        Path | None,
        typer.Option(
            "--outcomes",
            help="Also write whether each customer churned (drawn from the generator's truth) "
            "to this CSV (Parquet if named .parquet), for `churnops labels import`",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send realistic customers (optionally with a named shift) to a running API.

    Customers follow the serving version's schema: generated for the built-in one, else drawn
    from that version's reference sample (training rows).
    """
    from churnops.monitoring.simulate import payloads, population, send_traffic, simulated_frame
    from churnops.registry.store import open_registry
    from churnops.workflow import project_schema

    if shift != "none" and shift not in SHIFTS:
        raise BadInputError(f"unknown shift {shift!r}; choose none or one of {', '.join(SHIFTS)}")
    settings = settings_for(home, schema_file=schema)
    customers = population(open_registry(settings), lambda: project_schema(settings))
    if outcomes is not None and customers.sample is not None:
        raise BadInputError(
            f"--outcomes needs the generator's ground truth, and these customers come from "
            f"{customers.source}; only the built-in schema's simulated customers have one"
        )
    frame = simulated_frame(rows, seed, shift, customers)
    if out is not None:
        _write_rows(frame, out, customers.source, shift, as_json)
        _write_outcomes(outcomes, frame, rows, seed, as_json)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns, TimeElapsedColumn(), console=err_console, disable=as_json, transient=True
    ) as bar:
        task = bar.add_task(f"sending to {url}", total=rows)
        result = send_traffic(
            url,
            payloads(frame, customers.schema),
            concurrency,
            batch_size,
            lambda n: bar.advance(task, n),
        )
    if result.accepted == 0:
        reason = result.first_refusal or f"{result.transport_errors} connection error(s)"
        raise CheckFailedError(f"the API at {url} accepted no row ({reason}); is it running?")
    _write_outcomes(outcomes, frame, rows, seed, as_json)
    if as_json:
        print_json({"url": url, "shift": shift, "source": customers.source, **result.as_dict()})
    else:
        _show_simulation(result, url, shift)
    refused = result.rows - result.accepted
    if refused and not as_json:
        console.print(
            f"[yellow]{refused:,} row(s) refused[/]: the API validates rows against the schema, "
            "so refused rows never reach the inference log; judge such data from a file: "
            f"`churnops simulate --shift {shift} --out rows.csv` then "
            "`churnops drift --current rows.csv`",
            soft_wrap=True,  # never a line break inside a command
        )


def _write_outcomes(
    path: Path | None, frame: pd.DataFrame, rows: int, seed: int, quiet: bool
) -> None:
    """The customers' true outcomes, observed now (after their predictions)."""
    if path is None:
        return
    from churnops.outcomes.importer import PARQUET_SUFFIXES
    from churnops.outcomes.simulated import simulated_outcomes

    found = simulated_outcomes(frame, rows, seed, time.time())
    if path.suffix.lower() in PARQUET_SUFFIXES:  # the format `labels import` reads it as
        atomic_write(path, lambda tmp: found.to_parquet(tmp, index=False))
    else:
        atomic_write_text(path, found.to_csv(index=False))
    if not quiet:
        err_console.print(
            f"wrote {len(found):,} true outcomes ({found['outcome'].mean():.1%} churned) to "
            f"{path}: `churnops labels import {path}`",
            highlight=False,
            soft_wrap=True,  # never a line break inside the path or the command
        )


def register(app: typer.Typer) -> None:
    app.command()(drift)
    app.command()(simulate)
