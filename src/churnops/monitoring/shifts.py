"""Named distribution shifts applied to clean generated customers, for the simulator and tests.

Each shift is what a real business change would do to the traffic the model sees:

- ``price-increase``: every bill 10 % higher (monthly and total charges, since total ≈ tenure ×
  monthly: the customers look as if prices had always been 10 % higher).
- ``new-customers``: a campaign brings new customers: 30 % of rows get a tenure of 0–6 months
  (total charges recomputed from the new tenure; contracts unchanged).
- ``contract-shift``: the contract mix becomes 80 % month-to-month, 10 % one year, 10 % two year.
- ``new-payment-method``: 5 % of rows pay with a method the model never saw ("Digital wallet").
- ``missing-values``: 10 % of the cells of every feature become missing.

A shift applies to any schema that has the features it names (``NEEDS``), with the same
names and types: on another schema it is refused with the features it lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnops.errors import BadInputError
from churnops.schema import CONTRACT_TYPES, DEFAULT_SCHEMA, FeatureSchema

PRICE_FACTOR = 1.10
NEW_CUSTOMER_SHARE = 0.30
NEW_CUSTOMER_MAX_TENURE = 6
CONTRACT_SHARES = (0.8, 0.1, 0.1)
NEW_PAYMENT_METHOD = "Digital wallet"
NEW_PAYMENT_SHARE = 0.05
MISSING_SHARE = 0.10

Shift = Callable[[pd.DataFrame, np.random.Generator, FeatureSchema], pd.DataFrame]


def _price_increase(
    frame: pd.DataFrame, rng: np.random.Generator, schema: FeatureSchema
) -> pd.DataFrame:
    out = frame.copy()
    for name in ("monthly_charges", "total_charges"):
        limit = schema.numeric_feature(name).max
        out[name] = (out[name].astype(float) * PRICE_FACTOR).round(2).clip(upper=limit)
    return out


def _new_customers(
    frame: pd.DataFrame, rng: np.random.Generator, schema: FeatureSchema
) -> pd.DataFrame:
    out = frame.copy()
    chosen = rng.random(len(out)) < NEW_CUSTOMER_SHARE
    tenure = out["tenure"].to_numpy(dtype=np.int64, copy=True)
    tenure[chosen] = rng.integers(0, NEW_CUSTOMER_MAX_TENURE + 1, int(chosen.sum()))
    total = out["total_charges"].to_numpy(dtype=np.float64, copy=True)
    total[chosen] = np.round(tenure[chosen] * out["monthly_charges"].to_numpy()[chosen], 2)
    out["tenure"], out["total_charges"] = tenure, total
    return out


def _contract_shift(
    frame: pd.DataFrame, rng: np.random.Generator, schema: FeatureSchema
) -> pd.DataFrame:
    out = frame.copy()
    index = rng.choice(len(CONTRACT_TYPES), size=len(out), p=CONTRACT_SHARES)
    out["contract_type"] = np.asarray(CONTRACT_TYPES, dtype=object)[index]
    return out


def _new_payment_method(
    frame: pd.DataFrame, rng: np.random.Generator, schema: FeatureSchema
) -> pd.DataFrame:
    out = frame.copy()
    values = out["payment_method"].to_numpy(dtype=object, copy=True)
    values[rng.random(len(out)) < NEW_PAYMENT_SHARE] = NEW_PAYMENT_METHOD
    out["payment_method"] = values
    return out


def _missing_values(
    frame: pd.DataFrame, rng: np.random.Generator, schema: FeatureSchema
) -> pd.DataFrame:
    out = frame.copy()
    for name in schema.numeric_names:
        values = out[name].to_numpy(dtype=np.float64, copy=True)
        values[rng.random(len(out)) < MISSING_SHARE] = np.nan
        out[name] = values
    for name in schema.categorical_names:
        values = out[name].to_numpy(dtype=object, copy=True)
        values[rng.random(len(out)) < MISSING_SHARE] = None
        out[name] = values
    return out


SHIFTS: dict[str, Shift] = {
    "price-increase": _price_increase,
    "new-customers": _new_customers,
    "contract-shift": _contract_shift,
    "new-payment-method": _new_payment_method,
    "missing-values": _missing_values,
}

# the features each shift moves: the one it targets first, then those that follow from it
MOVES: dict[str, tuple[str, ...]] = {
    "price-increase": ("monthly_charges", "total_charges"),
    "new-customers": ("tenure", "total_charges"),
    "contract-shift": ("contract_type",),
    "new-payment-method": ("payment_method",),
    "missing-values": tuple(DEFAULT_SCHEMA.feature_names),
}


@dataclass(frozen=True)
class Need:
    """A feature a shift reads or writes: a number, or a categorical one holding
    ``categories`` (the values the shift writes; empty: any categories)."""

    feature: str
    categories: tuple[str, ...] | None = None  # None: numeric

    def met_by(self, schema: FeatureSchema) -> bool:
        if self.categories is None:
            return self.feature in schema.numeric_names
        if self.feature not in schema.categorical_names:
            return False
        declared = schema.categorical_feature(self.feature).categories
        return set(self.categories) <= set(declared)

    def describe(self) -> str:
        if self.categories is None:
            return f"{self.feature} (a number)"
        if not self.categories:
            return f"{self.feature} (categorical)"
        return f"{self.feature} (categorical: {', '.join(self.categories)})"


NEEDS: dict[str, tuple[Need, ...]] = {
    "price-increase": (Need("monthly_charges"), Need("total_charges")),
    "new-customers": (Need("tenure"), Need("monthly_charges"), Need("total_charges")),
    "contract-shift": (Need("contract_type", CONTRACT_TYPES),),
    "new-payment-method": (Need("payment_method", ()),),
    "missing-values": (),
}


def fitting_shifts(schema: FeatureSchema) -> list[str]:
    """The shifts that apply to ``schema``."""
    return [name for name, needs in NEEDS.items() if all(n.met_by(schema) for n in needs)]


def apply_shift(
    frame: pd.DataFrame,
    name: str | None,
    rng: np.random.Generator,
    schema: FeatureSchema = DEFAULT_SCHEMA,
    whose: str = "the feature schema",
) -> pd.DataFrame:
    """``frame`` with the named shift applied (``None`` or ``"none"``: unchanged); a shift
    naming a feature ``schema`` (``whose``: e.g. "v3's schema") lacks raises
    ``BadInputError``."""
    if name is None or name == "none":
        return frame
    lacking = [need.describe() for need in NEEDS[name] if not need.met_by(schema)]
    if lacking:
        raise BadInputError(
            f"the shift {name} moves {', '.join(lacking)}, which {whose} lacks; "
            f"shifts that fit it: {', '.join(fitting_shifts(schema))}"
        )
    return SHIFTS[name](frame, rng, schema)
