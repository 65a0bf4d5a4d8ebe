"""Where drift's two sides come from: a model version's reference, or CSV files.

A version's reference lives in the registry (written at training time), so the monitor never
needs the training set: ``registry/versions/vN/reference.parquet`` (≤ 10,000 training rows),
``train_stats.json`` (full-training category counts and missing rates) and ``holdout.parquet``
(whose ``prediction`` column is the reference for prediction drift).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from churnops.data.prepare import read_raw
from churnops.errors import BadInputError
from churnops.monitoring.columns import Columns, normalise
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema

PREDICTION_COLUMNS = ("probability", "prediction")


@dataclass
class Reference:
    label: str
    version: int | None
    columns: Columns  # the schema's features it has
    prediction: np.ndarray | None
    seen: dict[str, set[str]] = field(default_factory=dict)  # categories seen in training
    missing: dict[str, tuple[int, int]] = field(default_factory=dict)  # (missing, rows)
    training_rows: int | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # feature → why it is not compared


def _prediction(frame: pd.DataFrame) -> np.ndarray | None:
    for name in PREDICTION_COLUMNS:
        if name in frame.columns:
            values = pd.to_numeric(frame[name], errors="coerce").to_numpy(
                np.float64, na_value=np.nan
            )
            kept: np.ndarray = values[np.isfinite(values)]
            return kept
    return None


def _missing_columns(frame: pd.DataFrame, schema: FeatureSchema, where: str) -> dict[str, str]:
    absent = [name for name in schema.feature_names if name not in frame.columns]
    if len(absent) == len(schema.feature_names):
        raise BadInputError(
            f"{where} has none of the schema's features ({', '.join(schema.feature_names)}); "
            "is it a customer table?"
        )
    return {name: f"not in {where} (older schema?)" for name in absent}


def frame_reference(
    frame: pd.DataFrame, label: str, schema: FeatureSchema = DEFAULT_SCHEMA
) -> Reference:
    """Any table of customers as the reference; a ``prediction``/``probability`` column is used."""
    columns, _ = normalise(frame, schema)
    return Reference(
        label=label,
        version=None,
        columns=columns,
        prediction=_prediction(frame),
        seen={name: coded.present() for name, coded in columns.categorical.items()},
        missing=columns.missing(),
        training_rows=len(frame),
        skipped=_missing_columns(frame, schema, label),
    )


def csv_reference(path: Path, schema: FeatureSchema = DEFAULT_SCHEMA) -> Reference:
    return frame_reference(read_raw(path), str(path), schema)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path} is not readable JSON ({exc}); retrain this version") from exc
    if not isinstance(loaded, dict):
        raise BadInputError(f"{path} is not a training-statistics object; retrain this version")
    return loaded


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path} is not a readable Parquet file ({exc})") from exc


def version_reference(
    registry: Registry, version: int, schema: FeatureSchema = DEFAULT_SCHEMA
) -> Reference:
    """The reference of model version ``version`` from the registry (never the training set)."""
    entry = registry.require(registry.read(), version)
    folder = registry.version_dir(version)
    sample_path = folder / "reference.parquet"
    if not sample_path.exists():
        raise BadInputError(
            f"{entry.name} has no reference sample ({sample_path} is missing); retrain it or "
            "pass --reference FILE"
        )
    raw = _read_parquet(sample_path)
    columns, _ = normalise(raw, schema)
    skipped = _missing_columns(raw, schema, f"{entry.name}'s reference sample")
    try:
        trained_schema = FeatureSchema.model_validate(entry.feature_schema)
        for name in schema.feature_names:
            if name in trained_schema.feature_names and (
                (name in trained_schema.numeric_names) != (name in schema.numeric_names)
            ):
                skipped[name] = f"{entry.name} was trained with {name} of another type"
    except ValidationError:
        skipped.update({n: f"{entry.name}'s schema is unreadable" for n in schema.feature_names})
    columns = Columns(
        {n: v for n, v in columns.numeric.items() if n not in skipped},
        {n: c for n, c in columns.categorical.items() if n not in skipped},
        columns.rows,
    )
    holdout_path = folder / "holdout.parquet"
    prediction = _prediction(_read_parquet(holdout_path)) if holdout_path.exists() else None
    stats_path = folder / "train_stats.json"
    stats = _read_json(stats_path) if stats_path.exists() else {}
    rows = stats.get("rows") if isinstance(stats.get("rows"), int) else None
    reference = Reference(
        label=entry.name,
        version=version,
        columns=columns,
        prediction=prediction,
        missing=columns.missing(),
        training_rows=rows,
        skipped=skipped,
    )
    categorical = stats.get("categorical", {})
    for name, coded in columns.categorical.items():
        counts = categorical.get(name, {}).get("counts", {})
        reference.seen[name] = coded.present() | set(counts)
    rates = stats.get("missing_rates", {})
    for name in reference.missing:
        rate = rates.get(name)
        if rows and isinstance(rate, int | float):  # the full training set's rate
            reference.missing[name] = (round(rate * rows), rows)
    return reference


@dataclass
class CurrentFile:
    columns: Columns
    prediction: np.ndarray | None
    invalid: dict[str, int]
    skipped: dict[str, str]


def current_csv(path: Path, schema: FeatureSchema = DEFAULT_SCHEMA) -> CurrentFile:
    """A scoring file as the current data (a ``probability``/``prediction`` column is used)."""
    raw = read_raw(path)
    columns, invalid = normalise(raw, schema)
    return CurrentFile(columns, _prediction(raw), invalid, _missing_columns(raw, schema, str(path)))
