"""Feature columns in the form every test reads: float arrays and integer-coded categories.

Categories are factorised once per input (a million log rows in tens of milliseconds); each
chunk or model-version group is then a slice of integer codes, counted with ``bincount``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnops.schema import FeatureSchema

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


def normalise(
    frame: pd.DataFrame, schema: FeatureSchema, strip: bool = True
) -> tuple[Columns, dict[str, int]]:
    """The schema's features that ``frame`` has: numbers as float64 (non-finite → NaN),
    categories coded (blank → missing).

    Also returns, per numeric feature, how many present cells were not finite numbers (text,
    inf). ``strip`` trims category text (files); the log's values are exact.
    """
    numeric: dict[str, np.ndarray] = {}
    invalid: dict[str, int] = {}
    for name in schema.numeric_names:
        if name in frame.columns:
            raw = frame[name]
            values = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64, na_value=np.nan)
            finite = np.isfinite(values)
            invalid[name] = int((~finite & ~pd.isna(raw).to_numpy()).sum())
            numeric[name] = np.where(finite, values, np.nan)
    categorical: dict[str, Coded] = {}
    for name in schema.categorical_names:
        if name in frame.columns:
            text = frame[name].astype("string")
            if strip:
                text = text.str.strip()
                text = text.mask(text == "")
            codes, labels = pd.factorize(text)
            categorical[name] = Coded(np.asarray(codes), tuple(str(v) for v in labels))
    return Columns(numeric, categorical, len(frame)), invalid
