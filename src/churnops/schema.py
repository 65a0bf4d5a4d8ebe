"""The feature schema: the one declaration of what a customer row looks like.

``prepare`` validates with it (through the pandera schema built here), training fixes the
one-hot categories from it, the API builds its request model from it and drift picks its
tests from it. It is stored with every registered model version.

A project declares its own in ``churnops.yaml`` (see ``churnops.project``); without one the
built-in ``DEFAULT_SCHEMA`` (the lab's five features and its billing rule) applies.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    import pandera.pandas as pa

# The customer ids the API accepts; ``prepare`` holds CSV rows to the same rule. Each pattern
# has its ``_RULE``: the same in words, for messages (a test holds the two to each other).
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9_.:@/+-]{1,64}$"
CUSTOMER_ID_RULE = "1 to 64 characters, each a letter A-Z or a-z, a digit or one of _ . : @ / + -"
# The API also takes a customer id as a JSON whole number, read as its decimal text (42 and
# 42.0 are "42", as ``prepare`` reads a CSV's 42): from 0 (a negative number is more likely a
# placeholder such as -1 than an id) to 2**53 - 1, the largest up to which every JSON reader
# (a double) holds each integer exactly; larger ones are sent as text
CUSTOMER_ID_NUMBER_MAX = 2**53 - 1

# The request ids the API takes from a client's X-Request-ID (else it makes its own)
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:@/+=-]{1,128}$"
REQUEST_ID_RULE = "1 to 128 characters, each a letter A-Z or a-z, a digit or one of . _ : @ / + = -"
SCHEMA_FORMAT = 2  # 1: the five built-in features only (registries written before project files)


def whole_number_text(value: Any) -> str | None:
    """A whole number's decimal text — 42 and 42.0 are "42", as a CSV's 42 reads — else None
    (a fraction, a boolean, not a number): how an id sent as a number becomes an id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float | np.floating) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    return None


def spelling_key(value: str) -> str:
    """Case, spaces and punctuation do not matter: 'Month to month' ~ 'month-to-month'."""
    return re.sub(r"[^a-z0-9]", "", value.lower()).removesuffix("s")


def label_key(value: str) -> str:
    """How a label cell is compared: trimmed, any case, and numbers by value ('1.0' is '1')."""
    text = value.strip().lower()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if math.isfinite(number) and number.is_integer() else text


class NumericFeature(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: Literal["int", "float"]
    min: float
    max: float
    description: str = ""
    column: str | None = None  # the CSV column it is read from; None: the same as name
    # ratio: zero means none of it (counts, money); interval: zero is arbitrary. For drift.
    scale: Literal["ratio", "interval"] | None = None


class CategoricalFeature(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    categories: tuple[str, ...]
    description: str = ""
    column: str | None = None
    aliases: dict[str, str] = Field(default_factory=dict)  # another spelling -> its category

    def spellings(self) -> dict[str, str]:
        """Spelling key -> category, for the categories and their aliases."""
        known = {spelling_key(c): c for c in self.categories}
        known.update({spelling_key(alias): c for alias, c in self.aliases.items()})
        return known


class LabelValues(BaseModel):
    """Which label cells mean churned (1) and which stayed (0); anything else is rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    churned: tuple[str, ...] = Field(default=("1", "true", "yes"), min_length=1)
    stayed: tuple[str, ...] = Field(default=("0", "false", "no"), min_length=1)

    def mapping(self) -> dict[str, int]:
        """``label_key`` of each declared value -> 0 or 1."""
        return {label_key(v): 0 for v in self.stayed} | {label_key(v): 1 for v in self.churned}

    def describe(self) -> str:
        return f"{'/'.join(self.churned)} (churned) or {'/'.join(self.stayed)} (stayed)"


class ProductRule(BaseModel):
    """``result ≈ factors[0] × factors[1]`` within a relative ``tolerance``, e.g. total charges ≈
    tenure × monthly charges. A gap of one ``slack`` value (one month's bill) is always allowed.
    With ``impute``, one missing number of the three is filled from the other two."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["product"] = "product"
    result: str
    factors: tuple[str, str]
    tolerance: float = Field(default=0.25, gt=0)
    slack: str | None = None
    impute: bool = True

    @property
    def columns(self) -> tuple[str, str, str]:
        return (self.result, *self.factors)

    @property
    def failure(self) -> str:
        """The rejection reason of a row that breaks the rule."""
        first, second = self.factors
        return f"{self.result} inconsistent with {first} × {second}"

    def consistent(self, frame: pd.DataFrame) -> pd.Series:
        """True where the rule holds or a value is missing (missing values are another rule's)."""
        first, second = self.factors
        expected = frame[first] * frame[second]
        allowed = self.tolerance * expected
        if self.slack is not None:
            allowed = allowed.where(allowed >= frame[self.slack], frame[self.slack])
        gap = (frame[self.result] - expected).abs()
        return (gap <= allowed) | gap.isna()


class FeatureSchema(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: int = SCHEMA_FORMAT
    id_column: str = "customer_id"
    label: str = "churn"
    numeric: tuple[NumericFeature, ...]
    categorical: tuple[CategoricalFeature, ...]
    id_source: str | None = None  # the CSV column holding the id; None: id_column
    label_source: str | None = None  # the CSV column holding the label; None: label
    label_values: LabelValues = LabelValues()
    rules: tuple[ProductRule, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _upgrade_format_1(cls, data: Any) -> Any:
        """A schema stored before project files existed is the built-in one: give it the
        built-in aliases and billing rule, which were then hard-coded in ``prepare``."""
        if isinstance(data, dict) and data.get("version") == 1 and "rules" not in data:
            legacy = DEFAULT_SCHEMA.model_dump(
                mode="json", include={"id_column", "label", "numeric", "categorical"}
            )
            for features in legacy["numeric"], legacy["categorical"]:
                for feature in features:
                    for key in ("column", "scale", "aliases"):
                        feature.pop(key, None)
            same = all(data.get(key) == value for key, value in legacy.items())
            if same:
                return DEFAULT_SCHEMA.model_dump(mode="json")
        return data

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

    @property
    def int_names(self) -> list[str]:
        return [f.name for f in self.numeric if f.kind == "int"]

    def numeric_feature(self, name: str) -> NumericFeature:
        return next(f for f in self.numeric if f.name == name)

    def categorical_feature(self, name: str) -> CategoricalFeature:
        return next(f for f in self.categorical if f.name == name)

    def sources(self) -> dict[str, str]:
        """Each column of the prepared table (id, features, label) -> the CSV column it is read
        from, lower-cased: CSV headers are matched without regard to case."""
        pairs = [(self.id_column, self.id_source)]
        pairs += [(f.name, f.column) for f in self.numeric]
        pairs += [(f.name, f.column) for f in self.categorical]
        pairs.append((self.label, self.label_source))
        return {name: (source or name).strip().lower() for name, source in pairs}

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

    def pandera_schema(self, with_rules: bool = True, labelled: bool = True) -> pa.DataFrameSchema:
        """The rules for a clean table, declared once from this schema.

        Each rule is one line and says what it guards against. ``with_rules`` adds the declared
        data rules (such as the billing consistency), which need every value present.
        ``labelled=False`` is for rows to score: no label, and each row stands on its own (no
        uniqueness across rows, which a file read in batches could not honour anyway).
        """
        import pandera.pandas as pa  # here, not at the top: only prepare needs it (0.3 s import)

        id_rule = pa.Check(
            lambda ids: ids.str.fullmatch(CUSTOMER_ID_PATTERN),
            error=f"{self.id_column} not a valid id ({CUSTOMER_ID_RULE})",
        )
        columns: dict[str, pa.Column] = {
            # rows must be attributable to one customer, with an id the API would accept too
            self.id_column: pa.Column(str, id_rule, nullable=False),
        }
        if labelled:  # a supervised label: churned or not, nothing else
            columns[self.label] = pa.Column(
                float, pa.Check.isin([0, 1]), nullable=False, coerce=True
            )
        for num in self.numeric:
            checks = [pa.Check.in_range(num.min, num.max)]  # impossible values (typos, sentinels)
            if num.kind == "int":  # whole units only (months)
                checks.append(pa.Check(lambda s: s % 1 == 0, error="whole number"))
            columns[num.name] = pa.Column(float, checks, nullable=False, coerce=True)
        for cat in self.categorical:
            # unseen categories would be silently zero-encoded by the model
            columns[cat.name] = pa.Column(str, pa.Check.isin(list(cat.categories)), nullable=False)
        rules = [pa.Check(rule.consistent, error=rule.failure) for rule in self.rules if with_rules]
        return pa.DataFrameSchema(
            columns,
            checks=rules,
            strict=False,
            # one row per customer; later copies are rejected
            unique=[self.id_column] if labelled else None,
            report_duplicates="exclude_first",
            name="customers",
        )


CONTRACT_TYPES = ("Month-to-month", "One year", "Two year")
PAYMENT_METHODS = (
    "Electronic check",
    "Mailed check",
    "Bank transfer (automatic)",
    "Credit card (automatic)",
)


def default_schema(tolerance: float = 0.25) -> FeatureSchema:
    """The built-in schema: the lab's five features, and total ≈ tenure × monthly charges
    within ``tolerance`` (at least one month's bill of slack)."""
    return FeatureSchema(
        numeric=(
            NumericFeature(
                name="tenure", kind="int", min=0, max=72, description="Months as customer"
            ),
            NumericFeature(
                name="monthly_charges", kind="float", min=0, max=500, description="Current bill"
            ),
            NumericFeature(
                name="total_charges", kind="float", min=0, max=50_000, description="Billed to date"
            ),
        ),
        categorical=(
            CategoricalFeature(
                name="contract_type",
                categories=CONTRACT_TYPES,
                aliases={
                    "1 year": "One year",
                    "12 months": "One year",
                    "2 year": "Two year",
                    "24 months": "Two year",
                    "monthly": "Month-to-month",
                },
            ),
            CategoricalFeature(
                name="payment_method",
                categories=PAYMENT_METHODS,
                aliases={
                    "bank transfer": "Bank transfer (automatic)",
                    "credit card": "Credit card (automatic)",
                },
            ),
        ),
        rules=(
            ProductRule(
                result="total_charges",
                factors=("tenure", "monthly_charges"),
                tolerance=tolerance,
                slack="monthly_charges",
            ),
        ),
    )


DEFAULT_SCHEMA = default_schema()

# The lab walkthrough's example customer (its curl body): the API's documented example,
# and the body the tests and benchmarks send.
SEED_EXAMPLE: dict[str, float | int | str] = {
    "tenure": 12,
    "monthly_charges": 65.5,
    "total_charges": 786.0,
    "contract_type": "Month-to-month",
    "payment_method": "Electronic check",
}
