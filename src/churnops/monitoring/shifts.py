"""Named distribution shifts applied to clean generated customers, for the simulator and tests.

Each shift is what a real business change would do to the traffic the model sees:

- ``price-increase``: every bill 10 % higher (monthly and total charges, since total ≈ tenure ×
  monthly: the customers look as if prices had always been 10 % higher).
- ``new-customers``: a campaign brings new customers: 30 % of rows get a tenure of 0–6 months
  (total charges recomputed from the new tenure; contracts unchanged).
- ``contract-shift``: the contract mix becomes 80 % month-to-month, 10 % one year, 10 % two year.
- ``new-payment-method``: 5 % of rows pay with a method the model never saw ("Digital wallet").
- ``missing-values``: 10 % of the cells of every feature become missing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

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


def apply_shift(
    frame: pd.DataFrame,
    name: str | None,
    rng: np.random.Generator,
    schema: FeatureSchema = DEFAULT_SCHEMA,
) -> pd.DataFrame:
    """``frame`` with the named shift applied (``None`` or ``"none"``: unchanged)."""
    if name is None or name == "none":
        return frame
    return SHIFTS[name](frame, rng, schema)
