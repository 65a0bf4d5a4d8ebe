"""The feature schema: the one declaration of what a customer row looks like.

``prepare`` validates with it (through the pandera schema built here), training fixes the
one-hot categories from it, the API builds its request model from it and drift picks its
tests from it. It is stored with every registered model version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import pandera.pandas as pa


class NumericFeature(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: Literal["int", "float"]
    min: float
    max: float
    description: str = ""


class CategoricalFeature(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    categories: tuple[str, ...]
    description: str = ""


class FeatureSchema(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: int = 1
    id_column: str = "customer_id"
    label: str = "churn"
    numeric: tuple[NumericFeature, ...]
    categorical: tuple[CategoricalFeature, ...]

    @property
    def numeric_names(self) -> list[str]:
        return [f.name for f in self.numeric]

    @property
    def categorical_names(self) -> list[str]:
        return [f.name for f in self.categorical]

    @property
    def feature_names(self) -> list[str]:
        return self.numeric_names + self.categorical_names

    @property
    def encoded_names(self) -> list[str]:
        """Column names of the model matrix: numeric features, then one-hot categories."""
        names = list(self.numeric_names)
        for feature in self.categorical:
            names += [f"{feature.name}={category}" for category in feature.categories]
        return names

    def numeric_feature(self, name: str) -> NumericFeature:
        return next(f for f in self.numeric if f.name == name)

    def categorical_feature(self, name: str) -> CategoricalFeature:
        return next(f for f in self.categorical if f.name == name)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The float64 model matrix, identical to the fitted ColumnTransformer's output.

        Serving uses this instead of the scikit-learn preprocessing so the ONNX graph has one
        float input; training checks both give the same probabilities before registering.
        """
        numeric = frame[self.numeric_names].to_numpy(dtype=np.float64)
        blocks = [numeric]
        for feature in self.categorical:
            codes = pd.Categorical(frame[feature.name], categories=feature.categories).codes
            onehot = np.zeros((len(frame), len(feature.categories)), dtype=np.float64)
            known = codes >= 0
            onehot[np.nonzero(known)[0], codes[known]] = 1.0
            blocks.append(onehot)
        return np.hstack(blocks)

    def pandera_schema(self, total_tolerance: float | None = None) -> pa.DataFrameSchema:
        """The rules for a clean table, declared once from this schema.

        Each rule is one line and says what it guards against. With ``total_tolerance`` the
        billing-consistency rule is added: total_charges must be within that relative gap of
        tenure × monthly_charges (at least one month's bill of slack).
        """
        import pandera.pandas as pa  # here, not at the top: only prepare needs it (0.3 s import)

        columns: dict[str, pa.Column] = {
            # rows must be attributable to one customer
            self.id_column: pa.Column(str, nullable=False),
            # a supervised label: churned or not, nothing else
            self.label: pa.Column(float, pa.Check.isin([0, 1]), nullable=False, coerce=True),
        }
        for num in self.numeric:
            checks = [pa.Check.in_range(num.min, num.max)]  # impossible values (typos, sentinels)
            if num.kind == "int":  # whole units only (months)
                checks.append(pa.Check(lambda s: s % 1 == 0, error="whole number"))
            columns[num.name] = pa.Column(float, checks, nullable=False, coerce=True)
        for cat in self.categorical:
            # unseen categories would be silently zero-encoded by the model
            columns[cat.name] = pa.Column(str, pa.Check.isin(list(cat.categories)), nullable=False)
        checks = []
        if total_tolerance is not None:
            checks.append(
                pa.Check(
                    lambda frame: billing_consistent(frame, total_tolerance),
                    error="total_charges inconsistent with tenure × monthly_charges",
                )
            )
        return pa.DataFrameSchema(
            columns,
            checks=checks,
            strict=False,
            unique=[self.id_column],  # one row per customer; later copies are rejected
            report_duplicates="exclude_first",
            name="customers",
        )


def billing_consistent(frame: pd.DataFrame, tolerance: float) -> pd.Series:
    expected = frame["tenure"] * frame["monthly_charges"]
    slack = np.maximum(tolerance * expected, frame["monthly_charges"])
    gap = (frame["total_charges"] - expected).abs()
    return (gap <= slack) | gap.isna()


CONTRACT_TYPES = ("Month-to-month", "One year", "Two year")
PAYMENT_METHODS = (
    "Electronic check",
    "Mailed check",
    "Bank transfer (automatic)",
    "Credit card (automatic)",
)

DEFAULT_SCHEMA = FeatureSchema(
    numeric=(
        NumericFeature(name="tenure", kind="int", min=0, max=72, description="Months as customer"),
        NumericFeature(
            name="monthly_charges", kind="float", min=0, max=500, description="Current bill"
        ),
        NumericFeature(
            name="total_charges", kind="float", min=0, max=50_000, description="Billed to date"
        ),
    ),
    categorical=(
        CategoricalFeature(name="contract_type", categories=CONTRACT_TYPES),
        CategoricalFeature(name="payment_method", categories=PAYMENT_METHODS),
    ),
)

# The lab walkthrough's example customer (its curl body): the API's documented example,
# and the body the tests and benchmarks send.
SEED_EXAMPLE: dict[str, float | int | str] = {
    "tenure": 12,
    "monthly_charges": 65.5,
    "total_charges": 786.0,
    "contract_type": "Month-to-month",
    "payment_method": "Electronic check",
}
