"""Each stage as one plain function of the settings: called by the CLI, seed scripts and tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churnops.atomic import atomic_write_json
from churnops.data.generate import Generated, generate, write_csv
from churnops.data.prepare import Prepared, prepare
from churnops.errors import CheckFailedError
from churnops.model.train import Trained, load_processed, train_model
from churnops.registry.lifecycle import Registered, register
from churnops.settings import Settings


def generate_step(settings: Settings) -> Generated:
    generated = generate(settings.rows, settings.seed)
    write_csv(generated.table, settings.raw_csv)
    atomic_write_json(settings.raw_meta, generated.meta)
    return generated


class QualityGateError(CheckFailedError):
    """The data failed the quality gate; carries the checks' results for display."""

    def __init__(self, prepared: Prepared) -> None:
        super().__init__(
            f"quality gate failed: {prepared.failure}; data/processed.csv was not changed"
        )
        self.prepared = prepared


def prepare_step(settings: Settings, input_path: Path | None = None) -> Prepared:
    """Run the checks; raise ``QualityGateError`` (exit 1) when the quality gate fails."""
    prepared = prepare(
        input_path or settings.raw_csv,
        settings.data_dir,
        settings.max_reject_rate,
        settings.total_charges_tolerance,
    )
    if not prepared.passed:
        raise QualityGateError(prepared)
    return prepared


def oracle_auc(settings: Settings) -> float | None:
    """The generator's oracle AUC, when the processed data came from ``generate``."""
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
    registered: Registered
    oracle_auc: float | None


def train_step(
    settings: Settings,
    tune: bool = False,
    force: bool = False,
    data: Path | None = None,
    on_candidate: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train, export, register; the result says whether the gate made it current.
    ``on_candidate(done, total)`` reports tuning progress."""
    path = data or settings.processed_csv
    frame = load_processed(path)
    trained = train_model(frame, settings, tune, on_candidate=on_candidate)
    oracle = oracle_auc(settings) if data is None else None
    extra: dict[str, Any] = {"oracle_roc_auc": oracle} if oracle is not None else {}
    registered = register(settings, trained, path, force=force, extra_metrics=extra)
    return TrainResult(trained, registered, oracle)
