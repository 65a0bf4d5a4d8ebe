"""Feature columns in the form every test reads: float arrays and integer-coded categories.

Categories are factorised once per input (a million log rows in tens of milliseconds); each
chunk or model-version group is then a slice of integer codes, counted with ``bincount``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnops.schema import CategoricalFeature, FeatureSchema, spelling_key

Rows = slice | np.ndarray


@dataclass(frozen=True)
class Coded:
    """A categorical column: ``codes`` index ``labels``; -1 means missing."""

    codes: np.ndarray
    labels: tuple[str, ...]

    def take(self, rows: Rows) -> Coded:
        return Coded(self.codes[rows], self.labels)

    def counts(self) -> np.ndarray:
        """Rows per label (missing values not counted)."""
        return np.bincount(self.codes[self.codes >= 0], minlength=len(self.labels))

    def present(self) -> set[str]:
        return {label for label, n in zip(self.labels, self.counts(), strict=True) if n}


@dataclass(frozen=True)
class Columns:
    numeric: dict[str, np.ndarray]  # float64, NaN = missing
    categorical: dict[str, Coded]
    rows: int

    def take(self, rows: Rows) -> Columns:
        numeric = {name: values[rows] for name, values in self.numeric.items()}
        categorical = {name: coded.take(rows) for name, coded in self.categorical.items()}
        size = len(range(self.rows)[rows]) if isinstance(rows, slice) else int(rows.size)
        return Columns(numeric, categorical, size)

    def missing(self) -> dict[str, tuple[int, int]]:
        """(missing values, rows) per feature."""
        counts = {name: int(np.isnan(v).sum()) for name, v in self.numeric.items()}
        counts.update({name: int((c.codes < 0).sum()) for name, c in self.categorical.items()})
        return {name: (count, self.rows) for name, count in counts.items()}


def _canonical(labels: tuple[str, ...], feature: CategoricalFeature) -> list[str]:
    """Each label in the schema's spelling, as ``prepare`` respells them (case, spaces and
    punctuation ignored, the feature's declared aliases); unknown values are kept as given."""
    canonical = feature.spellings()
    return [canonical.get(spelling_key(label), label) for label in labels]


def _recode(codes: np.ndarray, labels: list[str]) -> Coded:
    """Merge labels that became equal (``monthly`` and ``Month-to-month``)."""
    merged, remap = np.unique(np.array(labels, dtype=object), return_inverse=True)
    if len(merged) == len(labels):
        return Coded(codes, tuple(labels))
    lookup = np.append(remap, -1)  # code -1 (missing) indexes the last slot
    return Coded(lookup[codes], tuple(str(v) for v in merged))


def normalise(
    frame: pd.DataFrame, schema: FeatureSchema, clean_text: bool = True
) -> tuple[Columns, dict[str, int]]:
    """The schema's features that ``frame`` has: numbers as float64 (non-finite → NaN),
    categories coded (missing → -1).

    Also returns, per numeric feature, how many present cells were not finite numbers (text,
    inf). ``clean_text`` is for files: cells are trimmed, blank cells are missing (not invalid
    numbers), and categories are respelled as ``prepare`` does. The log's values are exact.
    """
    numeric: dict[str, np.ndarray] = {}
    invalid: dict[str, int] = {}
    for name in schema.numeric_names:
        if name in frame.columns:
            raw = frame[name]
            if clean_text and not pd.api.types.is_numeric_dtype(raw.dtype):
                text = raw.astype("string").str.strip()
                raw = text.mask(text == "")
            values = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64, na_value=np.nan)
            finite = np.isfinite(values)
            invalid[name] = int((~finite & ~pd.isna(raw).to_numpy()).sum())
            numeric[name] = np.where(finite, values, np.nan)
    categorical: dict[str, Coded] = {}
    for feature in schema.categorical:
        if feature.name in frame.columns:
            text = frame[feature.name].astype("string")
            if clean_text:
                text = text.str.strip()
                text = text.mask(text == "")
            codes, uniques = pd.factorize(text)
            labels = [str(v) for v in uniques]
            if clean_text:
                labels = _canonical(tuple(labels), feature)
            categorical[feature.name] = _recode(np.asarray(codes), labels)
    return Columns(numeric, categorical, len(frame)), invalid
