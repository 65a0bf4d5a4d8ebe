"""``churnops score``: the whole customer base through a model version, into a file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from churnops.cli.ui import (
    HomeOpt,
    JsonOpt,
    console,
    print_json,
    progress,
    rows_bar,
    settings_for,
    step,
)
from churnops.registry.entries import parse_version


class Format(StrEnum):
    parquet = "parquet"
    csv = "csv"


class Engine(StrEnum):
    local = "local"
    spark = "spark"


def score(
    input_path: Annotated[
        Path, typer.Option("--input", help="CSV or Parquet file, or a folder of part files")
    ],
    output: Annotated[Path, typer.Option("--output", help="Scores file (Spark: a folder)")],
    home: HomeOpt = None,
    version: Annotated[
        str | None, typer.Option("--version", help="Score with vN (default: the current one)")
    ] = None,
    fmt: Annotated[
        Format | None,
        typer.Option("--format", help="parquet or csv (default: by --output suffix, else parquet)"),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output")
    ] = False,
    features: Annotated[
        bool,
        typer.Option("--features", help="Also write the features as scored (for drift --current)"),
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", min=0, help="Worker processes (0: one per core)")
    ] = 0,
    engine: Annotated[
        Engine, typer.Option("--engine", help="local: this machine; spark: a Spark session")
    ] = Engine.local,
    master: Annotated[
        str, typer.Option("--spark-master", help="With --engine spark: the Spark master")
    ] = "local[*]",
    as_json: JsonOpt = False,
) -> None:
    """Score every customer of a file with a model version: probability, decision at the
    version's threshold, risk decile (1 = riskiest tenth of the hold-out's scores), version and
    time. Rows that break the schema's rules go to OUTPUT's .rejected.csv with their reasons.

    Exit 0: scored; 1: the model version failed its checks; 2: bad input.
    """
    from churnops.scoring.workers import start_workers_early

    if engine is Engine.local:  # the workers' server imports while this process imports
        start_workers_early(workers)
    from churnops.registry.store import open_registry
    from churnops.scoring.run import ScoreOptions, ScoreSummary
    from churnops.scoring.run import score as score_local

    settings = settings_for(home)
    options = ScoreOptions(
        input=input_path,
        output=output,
        version=None if version is None else parse_version(version),
        format=None if fmt is None else fmt.value,
        overwrite=overwrite,
        with_features=features,
        workers=workers,
    )
    summary: ScoreSummary
    if engine is Engine.spark:
        from churnops.spark import score_files

        with progress(not as_json) as bar, step(bar, f"scoring on Spark ({master})"):
            summary = score_files(open_registry(settings), options, master)
    else:
        with progress(not as_json) as bar:
            summary = score_local(open_registry(settings), options, rows_bar(bar, "scoring", None))
    if as_json:
        print_json(summary.model_dump(mode="json"))
        return
    table = Table(title=f"Scored with {summary.version} ({summary.engine})", show_header=False)
    for key in ("rows_read", "rows_scored", "rows_rejected", "churn_decisions", "rows_per_second"):
        table.add_row(key, f"{getattr(summary, key):,}")
    for reason, count in summary.rejections_by_reason.items():
        table.add_row(f"  rejected: {reason}", f"{count:,}")
    console.print(table)
    console.print(f"wrote {summary.output} (rejects: {summary.rejects}) in {summary.seconds:.1f} s")


def register(app: typer.Typer) -> None:
    app.command()(score)
