"""Where drift's two sides come from: a model version's reference, or CSV files.

A version's reference lives in the registry (written at training time), so the monitor never
needs the training set: ``registry/versions/vN/reference.parquet`` (≤ 10,000 training rows),
``train_stats.json`` (full-training category counts and missing rates) and ``holdout.parquet``
(whose ``prediction`` column is the reference for prediction drift).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from churnops.data.prepare import read_raw, spelling_key
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


class CategoryStats(BaseModel):
    """The part of a categorical feature's training statistics drift reads."""

    model_config = ConfigDict(extra="ignore")
    counts: dict[str, int] = Field(default_factory=dict)


class TrainStats(BaseModel):
    """The part of ``train_stats.json`` drift reads; validated so that a hand-edited or
    truncated file is a clear error, not an AttributeError deep in the monitor."""

    model_config = ConfigDict(extra="ignore")
    rows: int | None = Field(default=None, ge=0)
    categorical: dict[str, CategoryStats] = Field(default_factory=dict)
    missing_rates: dict[str, float] = Field(default_factory=dict)


def _train_stats(path: Path) -> TrainStats:
    if not path.exists():
        return TrainStats()
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path} is not readable JSON ({exc}); retrain this version") from exc
    try:
        stats = TrainStats.model_validate(loaded)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the top level"
        raise BadInputError(
            f"{path} is not in the training-statistics format ({where}: {first['msg']}); "
            "restore it or retrain this version"
        ) from exc
    bad = [name for name, rate in stats.missing_rates.items() if not 0 <= rate <= 1]
    if bad:
        raise BadInputError(
            f"{path} has missing rates outside [0, 1] for {', '.join(bad)}; restore it or "
            "retrain this version"
        )
    return stats


def _require_rows(rows: int, where: str) -> None:
    if rows == 0:
        raise BadInputError(f"{where} has no rows, so there is nothing to compare with")


def _look_alike(name: str, columns: list[str]) -> str | None:
    """The column that looks most like feature ``name`` (``MonthlyCharges`` for
    ``monthly_charges``, ``Contract`` for ``contract_type``), if any."""
    keys = {spelling_key(column): column for column in columns}
    found = difflib.get_close_matches(spelling_key(name), list(keys), n=1, cutoff=0.6)
    return keys[found[0]] if found else None


def _missing_columns(frame: pd.DataFrame, schema: FeatureSchema, where: str) -> dict[str, str]:
    """Why each schema feature ``frame`` lacks is not compared; when a column of another
    name looks like it, the reason names that column."""
    absent = [name for name in schema.feature_names if name not in frame.columns]
    if len(absent) == len(schema.feature_names):
        raise BadInputError(
            f"{where} has none of the schema's features ({', '.join(schema.feature_names)}); "
            "is it a customer table?"
        )
    unused = [str(c) for c in frame.columns if c not in schema.feature_names]
    reasons = {}
    for name in absent:
        alike = _look_alike(name, unused)
        hint = f"it has {alike}: rename it to {name}?" if alike else "older schema?"
        reasons[name] = f"not in {where} ({hint})"
    return reasons


def frame_reference(
    frame: pd.DataFrame, label: str, schema: FeatureSchema = DEFAULT_SCHEMA
) -> Reference:
    """Any table of customers as the reference; a ``prediction``/``probability`` column is used."""
    _require_rows(len(frame), label)
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
    _require_rows(len(raw), f"{entry.name}'s reference sample {sample_path}")
    columns, _ = normalise(raw, schema)
    skipped = _missing_columns(raw, schema, f"{entry.name}'s reference sample")
    for name in schema.feature_names:  # a stored column of the wrong type is not comparable
        if name in raw.columns and pd.api.types.is_numeric_dtype(raw[name].dtype) != (
            name in schema.numeric_names
        ):
            expected = "numbers" if name in schema.numeric_names else "text"
            skipped[name] = f"stored as {raw[name].dtype} in {sample_path}, not as {expected}"
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
    stats = _train_stats(folder / "train_stats.json")
    rows = stats.rows
    reference = Reference(
        label=entry.name,
        version=version,
        columns=columns,
        prediction=prediction,
        missing=columns.missing(),
        training_rows=rows,
        skipped=skipped,
    )
    for name, coded in columns.categorical.items():
        trained = stats.categorical.get(name)
        reference.seen[name] = coded.present() | set(trained.counts if trained else ())
    for name in reference.missing:
        rate = stats.missing_rates.get(name)
        if rows and rate is not None:  # the full training set's rate
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
