"""The named shifts do what their names say, and only that."""

from __future__ import annotations

import numpy as np
import pytest
from drift_helpers import customers

from churnops.monitoring.shifts import MOVES, NEW_PAYMENT_METHOD, SHIFTS, apply_shift
from churnops.schema import DEFAULT_SCHEMA

ROWS = 20_000


def shifted(name: str):  # type: ignore[no-untyped-def]
    base = customers(ROWS, 1)
    return base, apply_shift(base, name, np.random.default_rng(2))


def unchanged_columns(name: str) -> list[str]:
    return [c for c in DEFAULT_SCHEMA.feature_names if c not in MOVES[name]]


@pytest.mark.parametrize("name", sorted(SHIFTS))
def test_a_shift_leaves_the_features_it_does_not_move_alone(name: str) -> None:
    """It changes only the features listed for the shift and never the input frame."""
    base, after = shifted(name)
    before = base.copy()
    for column in unchanged_columns(name):
        assert after[column].equals(base[column]), column
    assert base.equals(before)


def test_price_increase() -> None:
    """It raises monthly and total charges by 10%."""
    base, after = shifted("price-increase")
    ratio = after["monthly_charges"].sum() / base["monthly_charges"].sum()
    assert ratio == pytest.approx(1.10, abs=1e-3)
    assert after["total_charges"].sum() / base["total_charges"].sum() == pytest.approx(1.1, 1e-3)


def test_new_customers() -> None:
    """It turns about 30% of rows into customers of at most six months."""
    base, after = shifted("new-customers")
    changed = after["tenure"] != base["tenure"]
    assert after.loc[changed, "tenure"].max() <= 6
    assert (after["tenure"] <= 6).mean() - (base["tenure"] <= 6).mean() == pytest.approx(
        0.30 * (base["tenure"] > 6).mean(), abs=0.02
    )


def test_contract_shift() -> None:
    """It makes 80% of contracts month-to-month."""
    _, after = shifted("contract-shift")
    assert (after["contract_type"] == "Month-to-month").mean() == pytest.approx(0.8, abs=0.01)


def test_new_payment_method() -> None:
    """It gives 5% of rows a payment method the schema does not know."""
    _, after = shifted("new-payment-method")
    assert (after["payment_method"] == NEW_PAYMENT_METHOD).mean() == pytest.approx(0.05, abs=0.005)
    assert NEW_PAYMENT_METHOD not in DEFAULT_SCHEMA.categorical_feature("payment_method").categories


def test_missing_values() -> None:
    """It blanks 10% of the cells of every feature."""
    _, after = shifted("missing-values")
    for column in DEFAULT_SCHEMA.feature_names:
        assert after[column].isna().mean() == pytest.approx(0.10, abs=0.01), column


def test_no_shift_is_the_identity() -> None:
    """It returns the rows untouched for 'none'."""
    base = customers(100, 1)
    assert apply_shift(base, "none", np.random.default_rng(0)) is base
