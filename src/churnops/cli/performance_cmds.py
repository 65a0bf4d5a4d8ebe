"""``churnops performance``: each version's realised performance on the outcomes so far."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from churnops.cli.ui import (
    HomeOpt,
    JsonOpt,
    console,
    print_json,
    print_path,
    progress,
    set_by,
    settings_for,
    step,
)
from churnops.settings import Settings

_DEFAULTS = Settings.model_fields  # the help shows these; CHURNOPS_PERFORMANCE_* may set others


class Grouping(StrEnum):
    version = "version"
    all = "all"


def performance(
    home: HomeOpt = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Predictions from: ISO date-time (UTC) or an age (30d)"),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Predictions up to (excluded), same forms")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--last", help="Predictions of the last 30d, 12w, …")
    ] = None,
    by: Annotated[
        Grouping, typer.Option("--by", help="version: each model version; all: pooled")
    ] = Grouping.version,
    chunk: Annotated[
        str | None,
        typer.Option(
            "--chunk",
            help="Periods: 1d, 1w, … or N predictions, at least twice --min-per-class [1w]",
        ),
    ] = None,
    min_per_class: Annotated[
        int | None,
        typer.Option(
            "--min-per-class",
            help="Fewest churned and retained outcomes for a number "
            f"[{_DEFAULTS['performance_min_per_class'].default}]",
        ),
    ] = None,
    max_drop: Annotated[
        float | None,
        typer.Option(
            "--max-drop",
            help="Degraded when the interval lies this far below hold-out "
            f"[{_DEFAULTS['performance_max_auc_drop'].default}]",
        ),
    ] = None,
    as_json: JsonOpt = False,
    html: Annotated[bool, typer.Option("--html", help="Also write an HTML page")] = False,
    html_out: Annotated[
        Path | None, typer.Option("--html-out", help="HTML page path (implies --html)")
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Also print how it is measured")
    ] = False,
    scores: Annotated[
        list[Path] | None,
        typer.Option(
            "--scores",
            help="Also the predictions of a `churnops score` output (file or folder); repeatable",
        ),
    ] = None,
) -> None:
    """Each version's realised performance on the true outcomes so far, beside its hold-out.

    ROC AUC with its interval, precision, recall, F1 and Brier score, per period over time.
    The predictions are the inference log's and, with --scores, the batch-scored customers'
    (each a prediction of its model_version at scored_at; --since/--until/--last apply).

    Exit 0: no degradation (or not enough outcomes yet); 1: a version degraded; 2: bad input.
    """
    from churnops.performance.run import PerformanceOptions, run_performance
    from churnops.performance.terminal import print_performance

    settings = settings_for(
        home,
        performance_chunk=chunk,
        performance_min_per_class=min_per_class,
        performance_max_auc_drop=max_drop,
    )
    options = PerformanceOptions(
        since=since,
        until=until,
        last=last,
        by="all" if by is Grouping.all else "version",
        html=html,
        html_path=html_out,
        scores=tuple(scores or ()),
        chunk_option=set_by(chunk, "--chunk", "performance_chunk"),
    )
    with progress(not as_json) as bar, step(bar, "joining outcomes to predictions"):
        run = run_performance(settings, options)
    if as_json:
        payload = run.report.to_json()
        payload["report_path"] = str(run.json_path)
        payload["html_path"] = str(run.html_path) if run.html_path else None
        print_json(payload)
    else:
        print_performance(console, run.report, explain)
        print_path("report", run.json_path)
        if run.html_path:
            print_path("html", run.html_path)
    if run.report.degraded:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(performance)
