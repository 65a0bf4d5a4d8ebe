"""Properties of preparation that must hold for any input, checked on generated tables.

Each example is a whole table (one ``prepare_frame`` call costs ~50 ms), so few examples cover
many rows.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnops.data.prepare import ALIASES, prepare_frame, spelling_key
from churnops.schema import DEFAULT_SCHEMA

TOLERANCE = DEFAULT_SCHEMA.rules[0].tolerance
EXAMPLES = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEPARATORS = st.sampled_from(["", "", "", " ", "  ", "-", "_", ".", "/", "(", ")", ",", "\t"])
CATEGORIES = [(f.name, c) for f in DEFAULT_SCHEMA.categorical for c in f.categories]
KNOWN_KEYS = {spelling_key(c) for _name, c in CATEGORIES} | {spelling_key(a) for a in ALIASES}
BASE = {
    "tenure": "10",
    "monthly_charges": "20",
    "total_charges": "200",
    "contract_type": "One year",
    "payment_method": "Mailed check",
}


def table(changes: list[dict[str, str]]) -> pd.DataFrame:
    """Valid rows (labels alternating) with each row's changes applied."""
    records = [
        {"customer_id": f"C{i}", **BASE, "churn": str(i % 2), **change}
        for i, change in enumerate(changes)
    ]
    return pd.DataFrame(records, dtype="str")


@st.composite
def respelled(draw: st.DrawFn, text: str) -> str:
    """``text`` in any letter case, with any spaces or punctuation around and between letters."""
    out = [draw(SEPARATORS)]
    for char in text:
        out.append((char.upper() if draw(st.booleans()) else char.lower()) + draw(SEPARATORS))
    return "".join(out)


@st.composite
def variants(draw: st.DrawFn) -> tuple[str, str, str]:
    column, category = draw(st.sampled_from(CATEGORIES))
    return column, category, draw(respelled(category))


@EXAMPLES
@given(st.lists(variants(), min_size=1, max_size=30))
def test_any_case_space_or_punctuation_variant_maps_to_its_category(
    cases: list[tuple[str, str, str]],
) -> None:
    """Every case / space / punctuation variant of a category comes out as that category."""
    clean, rejected, _ = prepare_frame(table([{col: text} for col, _, text in cases]))
    assert rejected.empty, rejected["reason"].tolist()
    for index, (column, category, _text) in enumerate(cases):
        assert clean.loc[index, column] == category


@EXAMPLES
@given(
    st.lists(
        st.tuples(st.sampled_from(CATEGORIES), st.text(min_size=1, max_size=12)).filter(
            lambda case: spelling_key(case[1]) not in KNOWN_KEYS | {""}
        ),
        min_size=1,
        max_size=30,
    )
)
def test_a_different_word_is_never_taken_for_a_category(
    cases: list[tuple[tuple[str, str], str]],
) -> None:
    """Text whose letters and digits match no category or alias is rejected as unknown, never
    silently mapped to a category."""
    changes = [{column: text} for (column, _), text in cases]
    clean, rejected, _ = prepare_frame(table(changes))
    assert clean.empty
    for reason, ((column, _), _text) in zip(rejected["reason"], cases, strict=True):
        assert f"unknown {column}" in reason


@st.composite
def billing(draw: st.DrawFn) -> dict[str, str]:
    """A billing triple, consistent or not, with none, one or two of its numbers blank."""
    tenure = draw(st.integers(min_value=0, max_value=72))
    monthly = draw(st.decimals(min_value=0, max_value=500, places=2))
    exact = round(tenure * monthly, 2)
    total = draw(st.just(exact) | st.decimals(min_value=0, max_value=60_000, places=2))
    row = {"tenure": str(tenure), "monthly_charges": str(monthly), "total_charges": str(total)}
    for name in draw(st.sets(st.sampled_from(sorted(row)), max_size=2)):
        row[name] = draw(st.sampled_from(["", " "]))
    return row


@EXAMPLES
@given(st.lists(billing(), min_size=1, max_size=40))
def test_imputation_is_deterministic_and_stays_in_range(rows: list[dict[str, str]]) -> None:
    """Imputation gives the same result every time, and no clean row ever holds a value outside
    the schema's ranges, a fractional tenure or an inconsistent bill."""
    raw = table(rows)
    first, first_rejected, _ = prepare_frame(raw)
    second, second_rejected, _ = prepare_frame(raw.copy())
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(first_rejected, second_rejected)
    for feature in DEFAULT_SCHEMA.numeric:
        assert first[feature.name].between(feature.min, feature.max).all()
    assert (first["tenure"] % 1 == 0).all()
    expected = first["tenure"] * first["monthly_charges"]
    slack = (TOLERANCE * expected).clip(lower=first["monthly_charges"])
    assert ((first["total_charges"] - expected).abs() <= slack + 1e-9).all()


@EXAMPLES
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=72),
            st.decimals(min_value=1, max_value=500, places=2),
            st.sampled_from(["tenure", "monthly_charges", "total_charges"]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_imputation_recovers_a_consistent_bill(cases: list[tuple[int, Decimal, str]]) -> None:
    """On an exact bill (total = tenure × monthly, to the cent), a blanked number is recovered."""
    changes = []
    for tenure, monthly, blank in cases:
        row = {
            "tenure": str(tenure),
            "monthly_charges": str(monthly),
            "total_charges": str(round(tenure * monthly, 2)),
        }
        changes.append({**row, blank: ""})
    clean, rejected, _ = prepare_frame(table(changes))
    assert rejected.empty, rejected["reason"].tolist()
    tenures = [tenure for tenure, _, _ in cases]
    monthlies = [float(m) for _, m, _ in cases]
    totals = [float(round(tenure * m, 2)) for tenure, m, _ in cases]
    assert clean["tenure"].tolist() == tenures
    np.testing.assert_allclose(
        clean["monthly_charges"].to_numpy(float), monthlies, rtol=0, atol=0.005 + 1e-9
    )
    np.testing.assert_allclose(
        clean["total_charges"].to_numpy(float), totals, rtol=0, atol=0.005 + 1e-9
    )


CELL = st.one_of(
    st.sampled_from(["", " ", "\t", "abc", "-1", "0", "1", "72", "73", "1e9", "nan", "inf"]),
    st.decimals(min_value=-10, max_value=60_000, places=2).map(str),
    st.text(max_size=6),
)
CATEGORY_CELL = st.one_of(
    st.sampled_from([c for _name, c in CATEGORIES] + ["", "monthly", "1 year", "Bitcoin"]),
    st.text(max_size=8),
)
LABEL_CELL = st.sampled_from(["0", "1", "yes", "No", "TRUE", "false", "", "2", "maybe", "1.0"])
ID_CELL = st.sampled_from(["A", "B", "C", "", " D "]) | st.text(max_size=4)


@st.composite
def raw_tables(draw: st.DrawFn) -> pd.DataFrame:
    size = draw(st.integers(min_value=1, max_value=40))
    cells = {
        "customer_id": ID_CELL,
        "tenure": CELL,
        "monthly_charges": CELL,
        "total_charges": CELL,
        "contract_type": CATEGORY_CELL,
        "payment_method": CATEGORY_CELL,
        "churn": LABEL_CELL,
    }
    columns = {name: draw(st.lists(s, min_size=size, max_size=size)) for name, s in cells.items()}
    return pd.DataFrame(columns, dtype="str")


@EXAMPLES
@given(raw_tables())
def test_never_loses_a_row_and_every_reject_has_a_reason(raw: pd.DataFrame) -> None:
    """Each row read comes out once, clean or rejected with a reason; clean rows obey the schema."""
    clean, rejected, _ = prepare_frame(raw)
    assert len(clean) + len(rejected) == len(raw)
    assert all(isinstance(r, str) and r.strip() for r in rejected["reason"])
    pd.testing.assert_frame_equal(rejected.drop(columns="reason"), raw.loc[rejected.index])
    assert clean["customer_id"].is_unique
    assert clean["churn"].isin([0, 1]).all()
    for category in DEFAULT_SCHEMA.categorical:
        assert clean[category.name].isin(category.categories).all()
    for number in DEFAULT_SCHEMA.numeric:
        assert clean[number.name].between(number.min, number.max).all()
