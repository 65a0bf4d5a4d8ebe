"""The feature schema: one declaration, its encoding and the pandera rules built from it."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from churnops.model.train import build_pipeline
from churnops.schema import (
    CONTRACT_TYPES,
    CUSTOMER_ID_PATTERN,
    CUSTOMER_ID_RULE,
    DEFAULT_SCHEMA,
    PAYMENT_METHODS,
    REQUEST_ID_PATTERN,
    REQUEST_ID_RULE,
    FeatureSchema,
)

VALID = {
    "customer_id": "C1",
    "tenure": 12.0,
    "monthly_charges": 50.0,
    "total_charges": 600.0,
    "contract_type": "One year",
    "payment_method": "Mailed check",
    "churn": 1.0,
}


def test_declares_the_five_features() -> None:
    """Three numeric features with their ranges, two categorical ones with fixed categories."""
    assert DEFAULT_SCHEMA.numeric_names == ["tenure", "monthly_charges", "total_charges"]
    assert DEFAULT_SCHEMA.categorical_names == ["contract_type", "payment_method"]
    ranges = {f.name: (f.kind, f.min, f.max) for f in DEFAULT_SCHEMA.numeric}
    assert ranges == {
        "tenure": ("int", 0, 72),
        "monthly_charges": ("float", 0, 500),
        "total_charges": ("float", 0, 50_000),
    }
    assert DEFAULT_SCHEMA.categorical_feature("contract_type").categories == CONTRACT_TYPES
    assert DEFAULT_SCHEMA.categorical_feature("payment_method").categories == PAYMENT_METHODS
    assert (DEFAULT_SCHEMA.id_column, DEFAULT_SCHEMA.label) == ("customer_id", "churn")


def test_encoded_names_are_numeric_then_one_hot_in_category_order() -> None:
    """The model matrix columns: numeric features, then one column per category, in order."""
    assert DEFAULT_SCHEMA.encoded_names == [
        "tenure",
        "monthly_charges",
        "total_charges",
        *(f"contract_type={c}" for c in CONTRACT_TYPES),
        *(f"payment_method={c}" for c in PAYMENT_METHODS),
    ]


def test_encode_matches_the_training_pipeline() -> None:
    """encode() gives exactly the fitted ColumnTransformer's matrix, so serving and training
    feed the forest the same numbers."""
    rows = pd.DataFrame(
        [
            {**VALID, "contract_type": c, "payment_method": p, "tenure": float(i)}
            for i, (c, p) in enumerate(zip(CONTRACT_TYPES * 4, PAYMENT_METHODS * 3, strict=True))
        ]
    )
    pipeline = build_pipeline(DEFAULT_SCHEMA, {"n_estimators": 2}, seed=0)
    pipeline.fit(rows[DEFAULT_SCHEMA.feature_names], [0, 1] * 6)
    fitted = pipeline.named_steps["preprocess"].transform(rows[DEFAULT_SCHEMA.feature_names])
    np.testing.assert_array_equal(DEFAULT_SCHEMA.encode(rows), fitted)


def test_encode_sets_an_unknown_category_to_zeros() -> None:
    """An unknown category has no one-hot column set, as OneHotEncoder(handle_unknown='ignore')."""
    matrix = DEFAULT_SCHEMA.encode(pd.DataFrame([{**VALID, "contract_type": "Weekly"}]))
    assert matrix.shape == (1, len(DEFAULT_SCHEMA.encoded_names))
    assert matrix[0, 3:6].tolist() == [0.0, 0.0, 0.0]
    assert matrix[0, 6:].sum() == 1.0


def test_round_trips_through_json() -> None:
    """The schema stored with a model version reads back identical."""
    dumped = DEFAULT_SCHEMA.model_dump(mode="json")
    assert FeatureSchema.model_validate(dumped) == DEFAULT_SCHEMA


def _failures(**change: object) -> set[str]:
    """The checks failed by a changed second row; the valid first row must fail none."""
    frame = pd.DataFrame([VALID, {**VALID, "customer_id": "C2", **change}])
    try:
        DEFAULT_SCHEMA.pandera_schema().validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        assert set(cases["index"].dropna()) == {1}
        return {str(check) for check in cases["check"]}
    return set()


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"tenure": 73.0, "total_charges": 3650.0}, "in_range"),
        ({"tenure": -1.0, "total_charges": 0.0}, "in_range"),
        ({"tenure": 12.5, "total_charges": 625.0}, "whole number"),
        ({"monthly_charges": 500.01, "total_charges": 6000.12}, "in_range"),
        ({"total_charges": 50_000.01, "tenure": 72.0, "monthly_charges": 500.0}, "in_range"),
        ({"contract_type": "one year"}, "isin"),
        ({"payment_method": None}, "not_nullable"),
        ({"churn": 2.0}, "isin"),
        ({"customer_id": "C1"}, "uniqueness"),
        ({"total_charges": 2000.0}, "inconsistent"),
    ],
)
def test_pandera_rules(change: dict[str, object], check: str) -> None:
    """Each declared rule catches the row that breaks it (and only that row)."""
    assert any(check in name for name in _failures(**change)), _failures(**change)


def test_a_valid_row_passes_every_rule() -> None:
    """The valid row and its edge values (0 and 72 months, 0 charges) pass."""
    assert _failures() == set()
    assert _failures(tenure=0.0, monthly_charges=0.0, total_charges=0.0) == set()
    assert _failures(tenure=72.0, monthly_charges=500.0, total_charges=36_000.0) == set()


@pytest.mark.parametrize(
    ("tenure", "monthly", "total", "consistent"),
    [
        (12, 50.0, 600.0, True),
        (12, 50.0, 750.0, True),  # 25 % over
        (12, 50.0, 751.0, False),
        (1, 50.0, 100.0, True),  # one month of slack, more than 25 % of one bill
        (1, 50.0, 100.5, False),
        (0, 30.0, 30.0, True),  # a new customer billed once
        (12, 50.0, None, True),  # missing values are another rule's business
    ],
)
def test_billing_consistency(
    tenure: int, monthly: float, total: float | None, consistent: bool
) -> None:
    """total must be within 25 % of tenure × monthly, with at least one month's bill of slack."""
    frame = pd.DataFrame(
        {"tenure": [tenure], "monthly_charges": [monthly], "total_charges": [total]},
        dtype="float64",
    )
    assert bool(DEFAULT_SCHEMA.rules[0].consistent(frame).iloc[0]) is consistent


@pytest.mark.parametrize(
    ("pattern", "rule"),
    [(CUSTOMER_ID_PATTERN, CUSTOMER_ID_RULE), (REQUEST_ID_PATTERN, REQUEST_ID_RULE)],
)
def test_an_id_rule_in_words_says_what_its_pattern_allows(pattern: str, rule: str) -> None:
    """Messages give an id's rule in words, not its regular expression: the words allow the
    same characters and lengths as the pattern ("1 to N characters, …, one of _ . …")."""
    longest = int(rule.split()[2])
    assert rule.startswith(f"1 to {longest} characters")
    listed = set(rule.split("one of ")[1].split())
    for char in map(chr, range(32, 127)):  # printable ASCII; other characters are in no id
        allowed = char.isalnum() or char in listed
        assert bool(re.fullmatch(pattern, char)) == allowed, char
    assert not re.fullmatch(pattern, "é")
    assert re.fullmatch(pattern, "a" * longest)
    assert not re.fullmatch(pattern, "a" * (longest + 1)) and not re.fullmatch(pattern, "")
