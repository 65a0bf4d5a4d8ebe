"""How a customer's values are read: the rules ``prepare`` applies to CSV cells and the API to
JSON values, so a row one accepts the other accepts with the same meaning.

- Surrounding whitespace is ignored; a blank value is missing.
- A number may be given as text ("12", " 65.50 "): it is read as pandas reads numbers (so
  "1e3" and "inf" are numbers, "1,000" and "12 months" are not).
- A category may be spelled any way that differs only in case, spaces and punctuation
  ("month to month" is "Month-to-month"), or be one of the feature's declared aliases.

Each rule has a column form (``prepare``: a whole CSV column at once) and a one-value form
(the API: one JSON value); a test holds the two equal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from churnops.schema import CategoricalFeature, spelling_key

# The common shape of numeric text, read with ``float`` (50x faster than pandas' parser for one
# value, and the same number: both round correctly); any other text goes to pandas' parser.
PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def numbers(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A column of text as float numbers (blank: NaN), and a mask of the cells that held text
    which is not a number.

    A column that holds numbers already (a typed file's, with missing values as nulls: pandas'
    Arrow dtypes) is read as its cells' text would be, without the round trip through text:
    a null is blank, NaN is "nan", which is not a number, and every other value is itself."""
    if pd.api.types.is_numeric_dtype(text):
        values = text.astype("float64")
        return values, values.isna() & text.notna()
    stripped = text.str.strip()
    blank = stripped.isna() | (stripped == "")
    parsed = pd.to_numeric(stripped.where(~blank), errors="coerce").astype(float)
    return parsed, parsed.isna() & ~blank


def number(text: str) -> float | None:
    """One value of text as a number by the same rule: None when blank, NaN when not a number."""
    stripped = text.strip()
    if not stripped:
        return None
    if PLAIN_DECIMAL.fullmatch(stripped):
        return float(stripped)
    return float(pd.to_numeric(stripped, errors="coerce"))


def category(text: str, spellings: Mapping[str, str]) -> str | None:
    """The category ``text`` spells (``spellings``: ``CategoricalFeature.spellings()``), or
    None when it spells none."""
    return spellings.get(spelling_key(text))


def categories(text: pd.Series, feature: CategoricalFeature) -> tuple[pd.Series, int]:
    """A column in its canonical spellings (unknown values kept as given, stripped; blank
    cells missing) and how many cells were respelled. As pandas' text dtype, not Python
    objects: the schema's checks then test the column's type once, not every cell."""
    spellings = feature.spellings()
    codes, uniques = pd.factorize(text.str.strip())  # each distinct spelling read once
    canonical = [category(u, spellings) or u if u != "" else None for u in uniques]
    result = pd.Series(
        pd.array(canonical, dtype="str").take(codes, allow_fill=True), index=text.index
    )
    respelled = int((result.notna() & (result != text)).sum())
    return result, respelled
