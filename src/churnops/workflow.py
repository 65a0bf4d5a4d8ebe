"""Each stage as one plain function of the settings: called by the CLI, seed scripts and tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from churnops.atomic import atomic_write_json, refuse_to_replace, sha256_file
from churnops.data.generate import Generated, generate, generator_fits, write_csv
from churnops.data.prepare import GENERATE_FIRST, Prepared, prepare
from churnops.errors import BadInputError, CheckFailedError
from churnops.model.costs import Costs, resolve_costs
from churnops.model.train import (
    PREPARE_FIRST,
    Calibration,
    Options,
    Trained,
    load_processed,
    train_model,
)
from churnops.project import load_costs, load_schema, project_path
from churnops.registry.entries import ModelVersion
from churnops.registry.lifecycle import Registered, register
from churnops.registry.store import open_registry
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema
from churnops.settings import Settings

if TYPE_CHECKING:
    from churnops.model.evaluate import Comparison


def project_schema(settings: Settings) -> FeatureSchema:
    """The schema the project declares (``churnops.yaml`` or ``--schema``), else the built-in."""
    return load_schema(settings.schema_file, settings.home, settings.total_charges_tolerance)


def project_costs(settings: Settings) -> Costs | None:
    """The costs the project file declares (``costs:``), if any."""
    return load_costs(settings.schema_file, settings.home)


ThresholdBy = Literal["fixed", "cost"]


def training_options(
    settings: Settings,
    calibration: Calibration | None = None,
    threshold_by: ThresholdBy | None = None,
    cost_fn: float | None = None,
    cost_fp: float | None = None,
) -> Options:
    """The training options from the command line and the project file: known costs (flags over
    the file's ``costs:``) choose the threshold unless ``threshold_by`` is ``fixed``."""
    costs = resolve_costs(project_costs(settings), cost_fn, cost_fp)
    if threshold_by == "cost" and costs is None:
        raise BadInputError(
            "--threshold-by cost needs the costs of both mistakes: give --cost-fn and --cost-fp "
            "(e.g. --cost-fn 200 --cost-fp 20) or declare costs: in the project file"
        )
    by_cost = costs is not None and threshold_by != "fixed"
    return Options(calibration=calibration, costs=costs, threshold_by_cost=by_cost)


def generate_step(settings: Settings, force: bool = False) -> Generated:
    """Synthetic customers into data/raw.csv, and beside it raw.meta.json with the file's
    SHA-256. A data/raw.csv that meta file does not describe (the user's own data, or a file
    copied over a generated one) is replaced only with ``force``."""
    if not force and settings.raw_csv.is_file() and not _written_by_generate(settings):
        raise refuse_to_replace(
            settings.raw_csv,
            f"it is not what `churnops generate` wrote ({settings.raw_meta.name} beside it does "
            "not describe it): prepare it with `churnops prepare`",
            "run `churnops generate --force`",
        )
    schema = project_schema(settings)
    if not generator_fits(schema):
        raise BadInputError(
            "`churnops generate` writes synthetic customers of the built-in schema "
            f"({', '.join(DEFAULT_SCHEMA.feature_names)}), which do not match the project file "
            f"{project_path(settings.schema_file, settings.home)}; prepare your own data with "
            "`churnops prepare --input FILE`"
        )
    generated = generate(settings.rows, settings.seed)
    write_csv(generated.table, settings.raw_csv)
    generated.meta["sha256"] = sha256_file(settings.raw_csv)
    atomic_write_json(settings.raw_meta, generated.meta)
    return generated


def _written_by_generate(settings: Settings) -> bool:
    """Whether data/raw.csv is, byte for byte, the file ``generate`` recorded in raw.meta.json."""
    try:
        meta = json.loads(settings.raw_meta.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return isinstance(meta, dict) and meta.get("sha256") == sha256_file(settings.raw_csv)


class QualityGateError(CheckFailedError):
    """The data failed the quality gate; carries the checks' results for display."""

    def __init__(self, prepared: Prepared) -> None:
        super().__init__(
            f"quality gate failed: {prepared.failure}; data/processed.csv was not changed"
        )
        self.prepared = prepared


def prepare_step(settings: Settings, input_path: Path | None = None) -> Prepared:
    """Run the checks on ``input_path`` (the user's --input; default data/raw.csv); raise
    ``QualityGateError`` (exit 1) when the quality gate fails."""
    prepared = prepare(
        input_path or settings.raw_csv,
        settings.data_dir,
        settings.max_reject_rate,
        project_schema(settings),
        "check the path given to --input" if input_path else GENERATE_FIRST,
    )
    if not prepared.passed:
        raise QualityGateError(prepared)
    return prepared


def oracle_auc(settings: Settings) -> float | None:
    """The generator's oracle AUC (its true churn probabilities' AUC over every customer it
    generated, not a hold-out's), when the processed data came from ``generate``."""
    if not settings.raw_meta.exists() or not settings.quality_report.exists():
        return None
    try:
        meta = json.loads(settings.raw_meta.read_text(encoding="utf-8"))
        report = json.loads(settings.quality_report.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if Path(report.get("input", "")).resolve() != settings.raw_csv.resolve():
        return None
    value = meta.get("oracle_roc_auc")
    return float(value) if isinstance(value, int | float) else None


@dataclass
class TrainResult:
    trained: Trained
    registered: Registered | None  # None: identical to ``unchanged``, so nothing was registered
    oracle_auc: float | None
    unchanged: ModelVersion | None = None


def same_as_current(
    settings: Settings, trained: Trained, data: Path, schema: FeatureSchema
) -> ModelVersion | None:
    """The current version when it was trained on the same data (SHA-256) with the same
    schema, seed, split, tuning and hyper-parameters — retraining would only copy it."""
    current = open_registry(settings).read().current
    if current is None:
        return None
    same = (
        current.training_data.sha256 == sha256_file(data)
        and FeatureSchema.model_validate(current.feature_schema) == schema
        and current.hyperparameters == trained.hyperparameters
        and current.seed == settings.seed
        and current.threshold == trained.threshold
        and current.metrics["rows"] == len(trained.holdout_frame)
        and ("cv" in current.metrics) == (trained.cv is not None)
    )
    return current if same else None


def train_step(
    settings: Settings,
    tune: bool = False,
    force: bool = False,
    data: Path | None = None,
    on_candidate: Callable[[int, int], None] | None = None,
    options: Options | None = None,
) -> TrainResult:
    """Train, export, register; the result says whether the gate made it current, or that the
    current version is identical (nothing registered unless ``force``).
    ``on_candidate(done, total)`` reports tuning progress; ``options`` default to the project
    file's (see ``training_options``)."""
    open_registry(settings).read().refuse_during_experiment("training")  # before the long part
    path = data or settings.processed_csv
    schema = project_schema(settings)
    chosen = options if options is not None else training_options(settings)
    hint = "check the path given to --data" if data else PREPARE_FIRST
    frame = load_processed(path, schema, hint)
    trained = train_model(frame, settings, tune, schema, on_candidate, chosen)
    oracle = oracle_auc(settings) if data is None else None
    unchanged = None if force else same_as_current(settings, trained, path, schema)
    if unchanged is not None:
        return TrainResult(trained, None, oracle, unchanged)
    extra: dict[str, Any] = {"oracle_roc_auc": oracle} if oracle is not None else {}
    registered = register(settings, trained, path, force=force, extra_metrics=extra, schema=schema)
    return TrainResult(trained, registered, oracle)


def from_generator(settings: Settings, path: Path) -> bool:
    """Whether ``path`` is what ``generate`` wrote (``data/raw.csv``), or what ``prepare`` made
    of it: then the generator's true churn probabilities are known for its rows."""
    resolved = path.resolve()
    if resolved == settings.raw_csv.resolve():
        return settings.raw_meta.exists()
    return resolved == settings.processed_csv.resolve() and oracle_auc(settings) is not None


def evaluate_step(
    settings: Settings,
    versions: list[str],
    data: Path | None = None,
    cost_fn: float | None = None,
    cost_fp: float | None = None,
) -> Comparison:
    """Compare ``versions`` on the same customers (see ``model.evaluation_data``); costs from
    the command line over the project file's, else those the versions were trained with."""
    from churnops.model.evaluate import evaluate_versions  # matplotlib: only this stage needs it

    costs = resolve_costs(project_costs(settings), cost_fn, cost_fp)
    generated = data is not None and from_generator(settings, data)
    return evaluate_versions(settings, versions, data, costs, generated)
