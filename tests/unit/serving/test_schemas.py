"""The request models are derived from the feature schema, never written by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from churnops.schema import DEFAULT_SCHEMA, CategoricalFeature, FeatureSchema, NumericFeature
from churnops.serving.schemas import build_request_models, build_row_model

SEED_BODY: dict[str, Any] = {
    "tenure": 12,
    "monthly_charges": 65.5,
    "total_charges": 786.0,
    "contract_type": "Month-to-month",
    "payment_method": "Electronic check",
}


def test_row_fields_follow_the_schema() -> None:
    """It has one field per schema feature plus the optional customer id, nothing else."""
    row = build_row_model(DEFAULT_SCHEMA)
    assert set(row.model_fields) == {*DEFAULT_SCHEMA.feature_names, DEFAULT_SCHEMA.id_column}
    assert not row.model_fields[DEFAULT_SCHEMA.id_column].is_required()


def test_openapi_schema_enumerates_categories_and_ranges() -> None:
    """The JSON schema lists each category and each numeric range from the feature schema."""
    properties = build_row_model(DEFAULT_SCHEMA).model_json_schema()["properties"]
    for feature in DEFAULT_SCHEMA.categorical:
        assert properties[feature.name]["enum"] == list(feature.categories)
    for number in DEFAULT_SCHEMA.numeric:
        assert properties[number.name]["minimum"] == number.min
        assert properties[number.name]["maximum"] == number.max
    assert properties["tenure"]["type"] == "integer"
    assert properties["monthly_charges"]["type"] == "number"


def test_a_different_schema_gives_a_different_model() -> None:
    """It builds whatever the schema declares (here: one numeric, one categorical feature)."""
    schema = FeatureSchema(
        numeric=(NumericFeature(name="age", kind="float", min=18, max=99),),
        categorical=(CategoricalFeature(name="plan", categories=("basic", "pro")),),
    )
    row = build_row_model(schema)
    assert row.model_validate({"age": 30, "plan": "pro"}).age == 30  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        row.model_validate({"age": 30, "plan": "enterprise"})
    with pytest.raises(ValidationError):
        row.model_validate(SEED_BODY)


def test_seed_example_is_valid() -> None:
    """The seed README's body validates as is, and is the documented example."""
    row = build_row_model(DEFAULT_SCHEMA)
    assert row.model_validate_json(json.dumps(SEED_BODY)).tenure == 12  # type: ignore[attr-defined]
    assert row.model_json_schema()["examples"] == [SEED_BODY]


@pytest.mark.parametrize(
    ("change", "error_type"),
    [
        ({"tenure": 12.5}, "int_from_float"),  # months are whole
        ({"tenure": "12"}, "number_type"),  # a string is not a number
        ({"tenure": True}, "number_type"),  # nor is a boolean
        ({"tenure": 73}, "less_than_equal"),  # above the schema's range
        ({"monthly_charges": -1}, "greater_than_equal"),  # below it
        ({"total_charges": 1e308}, "less_than_equal"),  # huge
        ({"contract_type": "Weekly"}, "literal_error"),  # unknown category
        ({"customer_id": ""}, "string_pattern_mismatch"),  # an empty id is no id
        ({"customer_id": "x" * 65}, "string_pattern_mismatch"),  # ids are short
        ({"surprise": 1}, "extra_forbidden"),  # a misspelt feature is not ignored
    ],
)
def test_it_refuses_bad_values(change: dict[str, Any], error_type: str) -> None:
    """It refuses each class of bad value with a specific error."""
    row = build_row_model(DEFAULT_SCHEMA)
    with pytest.raises(ValidationError) as caught:
        row.model_validate_json(json.dumps({**SEED_BODY, **change}))
    assert caught.value.errors()[0]["type"] == error_type


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_it_refuses_non_finite_numbers(literal: str) -> None:
    """NaN and ±Infinity (which some JSON encoders emit) are refused."""
    body = f'{{"tenure": 1, "monthly_charges": {literal}, "total_charges": 1.0,'
    body += ' "contract_type": "One year", "payment_method": "Mailed check"}'
    with pytest.raises(ValidationError) as caught:
        build_row_model(DEFAULT_SCHEMA).model_validate_json(body)
    assert caught.value.errors()[0]["loc"] == ("monthly_charges",)


def test_unknown_category_error_lists_the_allowed_values() -> None:
    """The message of an unknown category names every allowed value."""
    with pytest.raises(ValidationError) as caught:
        build_row_model(DEFAULT_SCHEMA).model_validate({**SEED_BODY, "contract_type": "Weekly"})
    message = caught.value.errors()[0]["msg"]
    assert all(category in message for category in DEFAULT_SCHEMA.categorical[0].categories)


def test_batch_limits() -> None:
    """A batch holds 1 to batch_limit rows."""
    batch = TypeAdapter(build_request_models(DEFAULT_SCHEMA, batch_limit=3).batch)
    assert len(batch.validate_python([SEED_BODY] * 3)) == 3
    for size in (0, 4):
        with pytest.raises(ValidationError):
            batch.validate_python([SEED_BODY] * size)
