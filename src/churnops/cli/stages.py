"""Commands for the data and training stages: generate, prepare, train, evaluate, pipeline.

The stage modules (scikit-learn, pandera, skl2onnx, matplotlib) are imported inside the commands
so that `churnops --help` and the light commands start in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from churnops.cli.project_cmds import SchemaOpt
from churnops.cli.ui import (
    HomeOpt,
    JsonOpt,
    console,
    print_json,
    progress,
    settings_for,
    step,
    tuning_bar,
)

if TYPE_CHECKING:
    from churnops.workflow import TrainResult

RowsOpt = Annotated[
    int | None, typer.Option("--rows", help="Customers to generate [default 10000]")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed [default 42]")]
TuneOpt = Annotated[
    bool, typer.Option("--tune", help="Small cross-validated hyper-parameter search")
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Make it current even if it fails the gate")
]


def _generate_summary(meta: dict[str, object], path: Path) -> None:
    table = Table(title=f"Generated {path}", show_header=False)
    for key in ("rows", "rows_written", "seed", "churn_rate", "oracle_roc_auc"):
        value = meta[key]
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def _prepare_summary(report: dict[str, Any]) -> None:
    table = Table(title="Quality checks")
    table.add_column("check")
    table.add_column("count", justify="right")
    for key in ("rows_read", "rows_clean", "rows_rejected"):
        table.add_row(key, str(report[key]))
    for reason, count in report["rejections_by_reason"].items():
        table.add_row(f"  rejected: {reason}", str(count))
    for name in ("imputed", "spelling_normalised"):
        for column, count in report["checks"][name].items():
            if count:
                table.add_row(f"  {name.replace('_', ' ')}: {column}", str(count))
    console.print(table)
    unused = report["checks"]["extra_columns_ignored"]
    if unused:
        console.print(f"columns not in the schema, not used: {', '.join(unused)}", highlight=False)
    verdict = "passed" if report["gate"]["passed"] else "FAILED"
    console.print(f"reject rate {report['reject_rate']:.2%} — gate {verdict}")


def _train_summary(result: TrainResult) -> None:
    reg = result.registered
    if reg is None:
        console.print(f"[yellow]{_unchanged_reason(result)}[/]", highlight=False)
        return
    metrics = reg.entry.metrics
    table = Table(title=f"Model {reg.entry.name} — hold-out metrics ({metrics['rows']} rows)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("roc_auc", "accuracy", "precision", "recall", "f1"):
        table.add_row(key, _fmt(metrics[key]))
    if result.oracle_auc is not None:
        table.add_row("oracle roc_auc (ceiling)", f"{result.oracle_auc:.4f}")
    table.add_row("threshold", f"{metrics['threshold']:.2f}")
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    table.add_row(r"confusion \[tn fp; fn tp]", f"[{tn} {fp}; {fn} {tp}]")
    console.print(table)
    colour = "green" if reg.promoted else "red"
    console.print(
        f"[{colour}]{reg.entry.name} {reg.entry.status}[/]: {reg.reason}  ({reg.entry.file})"
    )
    if reg.removed:
        console.print(
            f"removed {len(reg.removed)} leftover(s) of interrupted trainings, untouched for "
            f"over an hour: {', '.join(reg.removed)}",
            highlight=False,
        )


def _unchanged_reason(result: TrainResult) -> str:
    same = result.unchanged
    name = same.name if same else "the current version"
    return (
        f"nothing registered: {name} was trained on the same data (SHA-256) with the same "
        "parameters, so a new version would be identical; pass --force to register it anyway"
    )


def _train_json(result: TrainResult) -> dict[str, object]:
    if result.registered is None:
        same = result.unchanged
        return {
            "version": same.version if same else None,
            "status": "unchanged",
            "promoted": False,
            "registered": False,
            "reason": _unchanged_reason(result),
            "file": same.file if same else None,
            "metrics": same.metrics if same else None,
            "oracle_roc_auc": result.oracle_auc,
        }
    return {
        "registered": True,
        "version": result.registered.entry.version,
        "status": result.registered.entry.status,
        "promoted": result.registered.promoted,
        "reason": result.registered.reason,
        "file": result.registered.entry.file,
        "metrics": result.registered.entry.metrics,
        "oracle_roc_auc": result.oracle_auc,
        "removed": result.registered.removed,
    }


def generate(
    home: HomeOpt = None,
    rows: RowsOpt = None,
    seed: SeedOpt = None,
    schema: SchemaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate a seeded synthetic customer base (of the built-in schema) into data/raw.csv."""
    from churnops import workflow

    settings = settings_for(home, rows=rows, seed=seed, schema_file=schema)
    with progress(not as_json) as bar, step(bar, f"generating {settings.rows:,} customers"):
        generated = workflow.generate_step(settings)
    if as_json:
        print_json(generated.meta)
    else:
        _generate_summary(generated.meta, settings.raw_csv)


def prepare(
    home: HomeOpt = None,
    input_path: Annotated[
        Path | None, typer.Option("--input", help="CSV to prepare [default data/raw.csv]")
    ] = None,
    max_reject_rate: Annotated[
        float | None, typer.Option("--max-reject-rate", help="Quality gate [0.05]")
    ] = None,
    schema: SchemaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check and clean the raw data into data/processed.csv (rejects go to data/rejected.csv)."""
    from churnops import workflow

    settings = settings_for(home, max_reject_rate=max_reject_rate, schema_file=schema)
    try:
        with progress(not as_json) as bar, step(bar, "checking and cleaning"):
            prepared = workflow.prepare_step(settings, input_path)
    except workflow.QualityGateError as failed:
        _show_prepared(failed.prepared.report, as_json)
        if not as_json:
            console.print(f"see {settings.quality_report} and {settings.rejected_csv}")
        raise
    _show_prepared(prepared.report, as_json)


def _show_prepared(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(report)
    else:
        _prepare_summary(report)


def train(
    home: HomeOpt = None,
    tune: TuneOpt = False,
    force: ForceOpt = False,
    seed: SeedOpt = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Prepared CSV [default data/processed.csv]")
    ] = None,
    schema: SchemaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train, version and register a model; it becomes current only if it passes the gate
    (a retrain identical to the current version registers nothing unless --force)."""
    from churnops import workflow

    settings = settings_for(home, seed=seed, schema_file=schema)
    with progress(not as_json) as bar, step(bar, "training, exporting to ONNX, registering"):
        result = workflow.train_step(
            settings, tune=tune, force=force, data=data, on_candidate=tuning_bar(bar)
        )
    if as_json:
        print_json(_train_json(result))
    else:
        _train_summary(result)
    if result.registered is not None and not result.registered.promoted:
        raise typer.Exit(1)


def evaluate(
    versions: Annotated[
        list[str] | None, typer.Argument(help="Versions, e.g. v1 v2 [default: current]")
    ] = None,
    home: HomeOpt = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Score this labelled CSV instead of each hold-out")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Metrics of versions side by side; ROC and confusion-matrix PNGs go to reports/."""
    from churnops.model.evaluate import evaluate_versions

    settings = settings_for(home)
    with progress(not as_json) as bar, step(bar, "evaluating"):
        results = evaluate_versions(settings, versions or [], data)
    if as_json:
        print_json([r.as_dict() for r in results])
        return
    table = Table(title="Evaluation" + (f" on {data}" if data else " on each version's hold-out"))
    table.add_column("metric")
    for result in results:
        table.add_column(result.name, justify="right")
    for key in ("roc_auc", "accuracy", "precision", "recall", "f1", "rows"):
        table.add_row(key, *[_fmt(r.metrics[key]) for r in results])
    console.print(table)
    for result in results:
        roc = result.roc_png or "no ROC curve (the data holds one class)"
        console.print(f"{result.name}: {roc}  {result.confusion_png}")
        if result.rows_dropped:
            console.print(
                f"  {result.rows_dropped:,} row(s) of {data} failed the checks, not scored"
            )


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def pipeline(
    home: HomeOpt = None,
    rows: RowsOpt = None,
    seed: SeedOpt = None,
    tune: TuneOpt = False,
    force: ForceOpt = False,
    schema: SchemaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """generate → prepare → train in one go (the built-in schema's synthetic data)."""
    from churnops import workflow

    settings = settings_for(home, rows=rows, seed=seed, schema_file=schema)
    with progress(not as_json) as bar:
        with step(bar, f"1/3 generating {settings.rows:,} customers"):
            generated = workflow.generate_step(settings)
        with step(bar, "2/3 checking and cleaning"):
            prepared = workflow.prepare_step(settings)
        with step(bar, "3/3 training, exporting to ONNX, registering"):
            result = workflow.train_step(
                settings, tune=tune, force=force, on_candidate=tuning_bar(bar)
            )
    if as_json:
        print_json(
            {"generate": generated.meta, "prepare": prepared.report, "train": _train_json(result)}
        )
    else:
        _generate_summary(generated.meta, settings.raw_csv)
        _prepare_summary(prepared.report)
        _train_summary(result)
    if result.registered is not None and not result.registered.promoted:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    for command in (generate, prepare, train, evaluate, pipeline):
        app.command()(command)
