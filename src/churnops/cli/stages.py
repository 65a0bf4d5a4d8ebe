"""Commands for the data and training stages: generate, prepare, train, evaluate, pipeline.

The stage modules (scikit-learn, pandera, skl2onnx, matplotlib) are imported inside the commands
so that `churnops --help` and the light commands start in a fraction of a second.
"""

from __future__ import annotations

from enum import StrEnum
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
    print_path,
    progress,
    settings_for,
    step,
    tuning_bar,
)

if TYPE_CHECKING:
    from churnops.model.evaluate import Comparison
    from churnops.registry.entries import ModelVersion
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
CostFnOpt = Annotated[
    float | None,
    typer.Option("--cost-fn", help="Cost of a missed churner (false negative), e.g. 200"),
]
CostFpOpt = Annotated[
    float | None,
    typer.Option("--cost-fp", help="Cost of an offer to a customer who stays (false positive)"),
]


class CalibrateChoice(StrEnum):
    isotonic = "isotonic"
    sigmoid = "sigmoid"


class ThresholdChoice(StrEnum):
    fixed = "fixed"
    cost = "cost"


CalibrateOpt = Annotated[
    CalibrateChoice | None,
    typer.Option("--calibrate", help="Calibrate probabilities by 5-fold cross-validation"),
]
ThresholdOpt = Annotated[
    ThresholdChoice | None,
    typer.Option(
        "--threshold-by",
        help="fixed (0.5, CHURNOPS_DECISION_THRESHOLD) or cost: the threshold of least expected "
        "cost [default: cost when costs are given or declared, else fixed]",
    ),
]


def _generate_summary(meta: dict[str, object], path: Path) -> None:
    print_path("generated", path)  # as the table's title, the path broke to the table's width
    table = Table(show_header=False)
    for key in ("rows", "rows_written", "seed", "churn_rate", "oracle_roc_auc"):
        value = meta[key]
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    rows, written = meta["rows"], meta["rows_written"]
    if isinstance(rows, int) and isinstance(written, int) and written > rows:
        console.print(
            f"rows_written = rows + {written - rows:,} repeated customer ids: dirt put in on "
            "purpose, like the blanks, impossible values and respellings in other rows, for "
            "prepare's checks to catch",
            highlight=False,
        )


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


def _train_summary(result: TrainResult, models_dir: Path) -> None:
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
        table.add_row("oracle roc_auc (all generated)", f"{result.oracle_auc:.4f}")
    table.add_row("threshold", f"{metrics['threshold']:.2f}" + _threshold_origin(reg.entry))
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    table.add_row(r"confusion \[tn fp; fn tp]", f"[{tn} {fp}; {fn} {tp}]")
    for label, value in _option_rows(reg.entry):
        table.add_row(label, value)
    console.print(table)
    if result.oracle_auc is not None:
        console.print(ORACLE_NOTE, highlight=False)
    for warning in _option_warnings(reg.entry):
        console.print(f"[yellow]{warning}[/]", highlight=False)
    colour = "green" if reg.promoted else "red"
    console.print(f"[{colour}]{reg.entry.name} {reg.entry.status}[/]: {reg.reason}")
    print_path("model", models_dir / reg.entry.file)  # after the reason, it wrapped at 80
    if reg.removed:
        console.print(
            f"removed {len(reg.removed)} leftover(s) of interrupted trainings, untouched for "
            f"over an hour: {', '.join(reg.removed)}",
            highlight=False,
        )
    if reg.note:
        console.print(f"note: {reg.note}", highlight=False)


ORACLE_NOTE = (
    "oracle: the generator's true churn probabilities scored on every customer it generated, "
    "not on this hold-out; a hold-out is a sample, so a model can land a little above it"
)


def _threshold_origin(entry: ModelVersion) -> str:
    return " (least expected cost)" if entry.hyperparameters.get("threshold_by") == "cost" else ""


def _option_rows(entry: ModelVersion) -> list[tuple[str, str]]:
    """Table rows for what ``--calibrate`` and costs added to the hold-out metrics."""
    metrics: dict[str, Any] = dict(entry.metrics)  # besides the typed keys: the options' own
    params = entry.hyperparameters
    rows = []
    if "brier_uncalibrated" in metrics:
        rows.append(
            (
                f"brier ({params['calibration']}; uncalibrated)",
                f"{metrics['brier']:.4f}; {metrics['brier_uncalibrated']:.4f}",
            )
        )
    else:
        rows.append(("brier", f"{metrics['brier']:.4f}"))
    if "expected_cost" in metrics:
        rows.append(("expected cost per customer", f"{metrics['expected_cost']:,.2f}"))
        fixed = metrics["expected_cost_at_fixed_threshold"]
        rows.append(("  at the fixed threshold", f"{fixed:,.2f}"))
    return rows


def _option_warnings(entry: ModelVersion) -> list[str]:
    metrics: dict[str, Any] = dict(entry.metrics)
    warnings = []
    if (
        metrics.get("brier_uncalibrated") is not None
        and metrics["brier"] > metrics["brier_uncalibrated"]
    ):
        warnings.append(
            f"{entry.hyperparameters['calibration']} calibration did not improve the hold-out "
            f"Brier score ({metrics['brier']:.4f} vs {metrics['brier_uncalibrated']:.4f} "
            "uncalibrated); try the other method or train without --calibrate"
        )
    return warnings


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
        "note": result.registered.note,
    }


def generate(
    home: HomeOpt = None,
    rows: RowsOpt = None,
    seed: SeedOpt = None,
    schema: SchemaOpt = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace data/raw.csv even if generate did not write it"),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Generate a seeded synthetic customer base (of the built-in schema) into data/raw.csv.

    It replaces a data/raw.csv only if generate wrote it (data/raw.meta.json records it),
    any other file only with --force."""
    from churnops import workflow

    settings = settings_for(home, starts_project=True, rows=rows, seed=seed, schema_file=schema)
    with progress(not as_json) as bar, step(bar, f"generating {settings.rows:,} customers"):
        generated = workflow.generate_step(settings, force=force)
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

    settings = settings_for(
        home,
        starts_project=input_path is not None,  # a new project from the CSV given
        max_reject_rate=max_reject_rate,
        schema_file=schema,
    )
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
    calibrate: CalibrateOpt = None,
    threshold_by: ThresholdOpt = None,
    cost_fn: CostFnOpt = None,
    cost_fp: CostFpOpt = None,
    schema: SchemaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train, version and register a model; it becomes current only if it passes the gate
    (a retrain identical to the current version registers nothing unless --force)."""
    from churnops import workflow

    settings = settings_for(
        home,
        starts_project=data is not None,  # a new project from the CSV given
        seed=seed,
        schema_file=schema,
    )
    options = workflow.training_options(
        settings,
        calibration=calibrate.value if calibrate else None,
        threshold_by=threshold_by.value if threshold_by else None,
        cost_fn=cost_fn,
        cost_fp=cost_fp,
    )
    with progress(not as_json) as bar, step(bar, "training, exporting to ONNX, registering"):
        result = workflow.train_step(
            settings,
            tune=tune,
            force=force,
            data=data,
            on_candidate=tuning_bar(bar),
            options=options,
        )
    if as_json:
        print_json(_train_json(result))
    else:
        _train_summary(result, settings.models_dir)
    if result.registered is not None and not result.registered.promoted:
        raise typer.Exit(1)


def evaluate(
    versions: Annotated[
        list[str] | None, typer.Argument(help="Versions, e.g. v1 v2 [default: current]")
    ] = None,
    home: HomeOpt = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Score this labelled CSV [default: hold-out customers none of them trained on]",
        ),
    ] = None,
    cost_fn: CostFnOpt = None,
    cost_fp: CostFpOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare versions on the same customers: metrics, and figures (ROC, precision–recall,
    calibration, confusion, gains, importance, cost) as PNGs and one HTML page in reports/."""
    from churnops import workflow

    settings = settings_for(home)
    with progress(not as_json) as bar, step(bar, "scoring and drawing"):
        comparison = workflow.evaluate_step(settings, versions or [], data, cost_fn, cost_fp)
    if as_json:
        print_json(comparison.as_dict())
        return
    _evaluation_summary(comparison)


EVALUATION_ROWS = (
    "roc_auc",
    "average_precision",
    "brier",
    "caught_top_10pct",
    "expected_cost",
    "threshold",
    "accuracy",
    "precision",
    "recall",
    "f1",
)


def _evaluation_summary(comparison: Comparison) -> None:
    # which customers, as a line of its own: as the table's title it wrapped to the table's
    # width (three lines at 80 columns); soft_wrap keeps a file's path unbroken
    console.print(f"Evaluation on {comparison.source}", highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("metric")
    for result in comparison.versions:
        table.add_column(result.name, justify="right")
    for key in EVALUATION_ROWS:
        values = [r.metrics.get(key) for r in comparison.versions]
        if any(value is not None for value in values):
            table.add_row(key, *[_fmt(value) for value in values])
    table.add_row("calibration", *[r.calibration or "none" for r in comparison.versions])
    console.print(table)
    if comparison.oracle_auc is not None:
        console.print(f"oracle roc_auc on these customers: {comparison.oracle_auc:.4f}")
    if comparison.rows_dropped:
        console.print(
            f"{comparison.rows_dropped:,} row(s) failed a version's checks and were not scored",
            highlight=False,
        )
    if comparison.html is not None:  # always, once evaluate_versions wrote the page
        print_path("report", comparison.html)
    console.print(
        f"figures: {', '.join(p.name for p in comparison.figures.values())} beside it",
        highlight=False,
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

    settings = settings_for(home, starts_project=True, rows=rows, seed=seed, schema_file=schema)
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
        _train_summary(result, settings.models_dir)
    if result.registered is not None and not result.registered.promoted:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    for command in (generate, prepare, train, evaluate, pipeline):
        app.command()(command)
