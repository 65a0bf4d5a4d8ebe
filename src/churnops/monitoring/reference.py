"""Where drift's two sides come from: a model version's reference, or CSV files.

A version's reference lives in the registry (written at training time), so the monitor never
needs the training set: ``registry/versions/vN/reference.parquet`` (≤ 10,000 training rows),
``train_stats.json`` (full-training category counts and missing rates) and ``holdout.parquet``
(whose ``prediction`` column is the reference for prediction drift).

Each reference carries the feature schema both sides are read with: a version's own stored
schema (the one its model and its logged rows follow), or for a reference file the schema it
is given. A file may name its columns by the schema's feature names (as ``simulate --out``
writes them) or by the CSV columns the schema reads (the export ``prepare`` reads).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from churnops.data.prepare import read_raw
from churnops.errors import BadInputError
from churnops.monitoring.columns import Columns, normalise
from churnops.registry.entries import ModelVersion
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema, spelling_key

PREDICTION_COLUMNS = ("probability", "prediction")


@dataclass
class Reference:
    label: str
    version: int | None
    schema: FeatureSchema  # what is compared, and how both sides are read
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


def by_feature_names(frame: pd.DataFrame, schema: FeatureSchema) -> tuple[pd.DataFrame, bool]:
    """``frame`` with its columns under the schema's feature names, and whether they were read
    from the schema's CSV columns: a table holding more of those (``monthlycharges`` for
    ``monthly_charges``) than of the feature names is read by them, as ``prepare`` reads it.
    Column names are lower case (``read_raw``)."""
    sources = schema.sources()
    names = schema.feature_names
    by_name = sum(name in frame.columns for name in names)
    by_source = sum(sources[name] in frame.columns for name in names)
    if by_source <= by_name:
        return frame, False
    renames = {sources[name]: name for name in names}
    # a column named like a feature but not read by the schema would collide with it
    kept = [c for c in frame.columns if c in renames or c not in names]
    return frame[kept].rename(columns=renames), True


def frame_reference(
    frame: pd.DataFrame, label: str, schema: FeatureSchema = DEFAULT_SCHEMA
) -> Reference:
    """Any table of customers as the reference; a ``prediction``/``probability`` column is used."""
    _require_rows(len(frame), label)
    frame, _ = by_feature_names(frame, schema)
    columns, _ = normalise(frame, schema)
    return Reference(
        label=label,
        version=None,
        schema=schema,
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


def reference_sample(
    registry: Registry, entry: ModelVersion, remedy: str = "retrain it"
) -> pd.DataFrame:
    """Version ``entry``'s stored sample of its training rows (features and label)."""
    sample_path = registry.version_dir(entry.version) / "reference.parquet"
    if not sample_path.exists():
        raise BadInputError(
            f"{entry.name} has no reference sample ({sample_path} is missing); {remedy}"
        )
    raw = _read_parquet(sample_path)
    _require_rows(len(raw), f"{entry.name}'s reference sample {sample_path}")
    return raw


def version_reference(registry: Registry, version: int) -> Reference:
    """The reference of model version ``version`` from the registry (never the training set),
    under the schema stored with it."""
    entry = registry.require(registry.read(), version)
    schema = FeatureSchema.model_validate(entry.feature_schema)
    folder = registry.version_dir(version)
    sample_path = folder / "reference.parquet"
    raw = reference_sample(registry, entry, "retrain it or pass --reference FILE")
    columns, _ = normalise(raw, schema)
    skipped = _missing_columns(raw, schema, f"{entry.name}'s reference sample")
    for name in schema.feature_names:  # a stored column of the wrong type is not comparable
        if name in raw.columns and pd.api.types.is_numeric_dtype(raw[name].dtype) != (
            name in schema.numeric_names
        ):
            expected = "numbers" if name in schema.numeric_names else "text"
            skipped[name] = f"stored as {raw[name].dtype} in {sample_path}, not as {expected}"
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
        schema=schema,
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


class VersionReferences:
    """The reference each model version found in the log is judged against: its own from the
    registry, or the ``--reference`` file read under that version's schema (under
    ``fallback()``, the project's schema, for a version the registry does not hold)."""

    def __init__(
        self, registry: Registry, file: Path | None, fallback: Callable[[], FeatureSchema]
    ) -> None:
        self.registry = registry
        self.stored = {
            entry.version: FeatureSchema.model_validate(entry.feature_schema)
            for entry in registry.read().versions
        }
        self.file = file
        self.fallback = cache(fallback)  # read the project file once, and only if needed
        self._files: dict[str, Reference] = {}  # the reference file, per schema (as JSON)

    def schemas(self, version: int | None) -> list[FeatureSchema]:
        """The schemas logged rows may follow: every registered version's (only ``version``'s
        when given), and with a reference file the fallback too."""
        numbers = list(self.stored) if version is None else [version]
        schemas = [self.stored[number] for number in numbers if number in self.stored]
        return [*schemas, self.fallback()] if self.file is not None else schemas

    def get(self, version: int) -> Reference:
        if self.file is None:
            return version_reference(self.registry, version)
        schema = self.stored.get(version) or self.fallback()
        key = schema.model_dump_json()
        if key not in self._files:
            self._files[key] = csv_reference(self.file, schema)
        return self._files[key]


@dataclass
class CurrentFile:
    columns: Columns
    prediction: np.ndarray | None
    invalid: dict[str, int]
    skipped: dict[str, str]
    by_source: bool = False  # read by the schema's CSV column names


def current_csv(path: Path, schema: FeatureSchema = DEFAULT_SCHEMA) -> CurrentFile:
    """A scoring file as the current data (a ``probability``/``prediction`` column is used): a
    CSV, or Parquet file or folder such as ``churnops score`` writes."""
    from churnops.scoring.source import read_text_table  # pyarrow datasets, only for Parquet

    parquet = path.is_dir() or path.suffix.lower() in (".parquet", ".pq")
    text = read_text_table(path) if parquet else read_raw(path)
    raw, by_source = by_feature_names(text, schema)
    columns, invalid = normalise(raw, schema)
    skipped = _missing_columns(raw, schema, str(path))
    return CurrentFile(columns, _prediction(raw), invalid, skipped, by_source)
