"""The one-value form of each reading rule (the API's) agrees with the column form
(``prepare``'s) on any text."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from churnops.data import cells
from churnops.schema import DEFAULT_SCHEMA
from churnops.scoring.source import as_text_batch, as_text_frame

NUMBERISH = st.text(alphabet="0123456789.+-eEinfatyINFATY _\t\u00a0,x", max_size=12)
DECIMALS = st.from_regex(r"\A\s?-?[0-9]{1,20}(\.[0-9]{1,20})?\s?\Z")


@settings(max_examples=400, deadline=None)
@given(st.lists(NUMBERISH | DECIMALS, min_size=1, max_size=20))
@example(["12", " 65.50 ", "", "  ", "nan", "-inf", "1e3", "1,000", "1_000", "+5", ".5", "5."])
def test_one_value_is_read_as_its_column_reads_it(values: list[str]) -> None:
    """Blank is missing, not-a-number is flagged, and every number is the same float."""
    column, not_numbers = cells.numbers(pd.Series(values, dtype=object))
    for value, parsed, flagged in zip(values, column, not_numbers, strict=True):
        one = cells.number(value)
        if one is None:
            assert math.isnan(parsed) and not flagged
        elif math.isnan(one):
            assert flagged
        else:
            assert one == parsed and not flagged


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(max_size=20) | st.sampled_from(["one YEAR", "12 months", " monthly "])))
def test_one_category_is_respelled_as_its_column_respells_it(values: list[str]) -> None:
    """The canonical category of a value is the one ``prepare`` gives its cell."""
    feature = DEFAULT_SCHEMA.categorical[0]
    column, _ = cells.categories(pd.Series(values, dtype=object), feature)
    spellings = feature.spellings()
    for value, prepared in zip(values, column, strict=True):
        if value.strip():
            assert (cells.category(value, spellings) or value.strip()) == prepared


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.none() | st.floats(), min_size=1, max_size=30),
    st.lists(st.none() | st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=30),
)
@example([None, math.nan, math.inf, -0.0, 786.0, 1e20, 0.1 + 0.2], [None, 2**53 + 1, -5])
def test_a_typed_column_of_numbers_is_read_as_its_text(
    floats: list[float | None], ints: list[int | None]
) -> None:
    """``score`` leaves a typed file's numeric columns as numbers: they read exactly as the
    same cells given as text (a null is missing, NaN is not a number)."""
    for values in (pa.array(floats, pa.float64()), pa.array(ints, pa.int64())):
        batch = pa.RecordBatch.from_arrays([values], names=["x"])
        typed = cells.numbers(as_text_frame(as_text_batch(batch, ["x"], {"x"}))["x"])
        text = cells.numbers(as_text_frame(as_text_batch(batch, ["x"]))["x"])
        assert typed[0].tolist() == pytest.approx(text[0].tolist(), rel=0, abs=0, nan_ok=True)
        assert typed[1].tolist() == text[1].tolist()
