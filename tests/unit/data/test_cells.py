"""The one-value form of each reading rule (the API's) agrees with the column form
(``prepare``'s) on any text."""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from churnops.data import cells
from churnops.schema import DEFAULT_SCHEMA

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
