"""The request models are derived from the feature schema, never written by hand, and read
values by the rules ``prepare`` applies to CSV cells."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pandas as pd
import pytest
from pydantic import ValidationError

from churnops.data.prepare import prepare_frame
from churnops.schema import (
    CUSTOMER_ID_NUMBER_MAX,
    CUSTOMER_ID_RULE,
    DEFAULT_SCHEMA,
    CategoricalFeature,
    FeatureSchema,
    NumericFeature,
)
from churnops.serving.errors import SummarisedValidationError
from churnops.serving.inputs import ModelInputs
from churnops.serving.schemas import build_row_model

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
        ({"tenure": "12.5"}, "int_from_float"),  # as text too
        ({"tenure": "twelve"}, "number_type"),  # text that is not a number
        ({"tenure": "12 months"}, "number_type"),  # prepare refuses it too
        ({"tenure": "  "}, "number_type"),  # blank text is no number
        ({"tenure": "nan"}, "number_type"),  # nor is NaN spelt out
        ({"monthly_charges": "inf"}, "finite_number"),  # a number, but not a finite one
        ({"tenure": True}, "number_type"),  # a boolean is not a number
        ({"tenure": [12]}, "int_type"),  # nor is a list
        ({"monthly_charges": {"value": 1}}, "float_type"),  # nor an object
        ({"contract_type": True}, "literal_error"),  # a boolean is no category
        ({"contract_type": 1.0}, "literal_error"),  # nor a number that is not a category's
        ({"tenure": 73}, "less_than_equal"),  # above the schema's range
        ({"monthly_charges": -1}, "greater_than_equal"),  # below it
        ({"total_charges": 1e308}, "less_than_equal"),  # huge
        ({"contract_type": "Weekly"}, "literal_error"),  # unknown category
        ({"customer_id": ""}, "customer_id_invalid"),  # an empty id is no id
        ({"customer_id": "x" * 65}, "customer_id_invalid"),  # ids are short
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
    inputs = ModelInputs(DEFAULT_SCHEMA, batch_limit=3, extra="ignore", batch_errors="refuse")
    assert len(inputs.batch(json.dumps([SEED_BODY] * 3).encode()).rows) == 3
    for size, problem in ((0, "too_short"), (4, "too_long")):
        with pytest.raises(SummarisedValidationError) as caught:
            inputs.batch(json.dumps([SEED_BODY] * size).encode())
        assert [e["type"] for e in caught.value.errors()] == [problem]


def test_extra_fields_are_ignored_or_refused() -> None:
    """Fields the schema does not declare are dropped by default (a client sending the whole
    customer record) and refused with extra="forbid" (a misspelt feature is then caught)."""
    body = {**SEED_BODY, "gender": "Female", "SeniorCitizen": 0}
    row = build_row_model(DEFAULT_SCHEMA).model_validate(body)
    assert set(row.model_dump()) == {*DEFAULT_SCHEMA.feature_names, "customer_id"}
    with pytest.raises(ValidationError) as caught:
        build_row_model(DEFAULT_SCHEMA, extra="forbid").model_validate(body)
    assert {e["type"] for e in caught.value.errors()} == {"extra_forbidden"}
    assert len(caught.value.errors()) == 2


@pytest.mark.parametrize(
    ("change", "read_as"),
    [
        ({"contract_type": "month-to-month"}, {"contract_type": "Month-to-month"}),
        ({"contract_type": " MONTH TO MONTH "}, {"contract_type": "Month-to-month"}),
        ({"contract_type": "12 months"}, {"contract_type": "One year"}),  # a declared alias
        ({"payment_method": "credit card"}, {"payment_method": "Credit card (automatic)"}),
        ({"tenure": "12"}, {"tenure": 12}),
        ({"tenure": " 12.0 "}, {"tenure": 12}),
        ({"monthly_charges": "65.50"}, {"monthly_charges": 65.5}),
        ({"total_charges": "7.86e2"}, {"total_charges": 786.0}),
        ({"customer_id": " C-1 "}, {"customer_id": "C-1"}),
    ],
)
def test_it_reads_values_as_prepare_does(change: dict[str, Any], read_as: dict[str, Any]) -> None:
    """Spellings, aliases and numbers sent as text are read as their canonical value."""
    row = build_row_model(DEFAULT_SCHEMA).model_validate_json(json.dumps({**SEED_BODY, **change}))
    assert {name: getattr(row, name) for name in read_as} == read_as


def test_a_whole_number_is_read_as_the_category_it_spells() -> None:
    """A 0/1 flag declared as categories "0" and "1" takes 0 and 1 as JSON numbers too."""
    schema = FeatureSchema(
        numeric=(NumericFeature(name="age", kind="int", min=18, max=99),),
        categorical=(CategoricalFeature(name="senior", categories=("0", "1")),),
    )
    row = build_row_model(schema).model_validate_json(b'{"age": "70", "senior": 1}')
    assert (row.age, row.senior) == (70, "1")  # type: ignore[attr-defined]


def test_rows_prepare_accepts_mean_the_same_to_the_api() -> None:
    """CSV rows written every way ``prepare`` accepts, sent as JSON text values, validate to
    the values ``prepare`` produces."""
    cells = [
        ("12", " 65.5", "786.00 ", "month to month", "Electronic Check"),
        (" 1", "20", "20", "1 year", "bank transfer"),
        ("24", "99.95", "2398.8", "TWO YEAR", "mailed-check"),
        ("3", "1e2", "300", "Monthly", "Credit card (automatic)"),
    ]
    names = DEFAULT_SCHEMA.feature_names
    raw = pd.DataFrame([(f"C{i}", *values, "0") for i, values in enumerate(cells)])
    raw.columns = [DEFAULT_SCHEMA.id_column, *names, DEFAULT_SCHEMA.label]
    clean, rejected, _ = prepare_frame(raw.astype(object), DEFAULT_SCHEMA)
    assert rejected.empty
    row_model = build_row_model(DEFAULT_SCHEMA)
    for values, (_, prepared) in zip(cells, clean.iterrows(), strict=True):
        row = row_model.model_validate_json(json.dumps(dict(zip(names, values, strict=True))))
        assert [getattr(row, name) for name in names] == [prepared[name] for name in names]


ID_MESSAGE = (
    f"Input should be a customer id: text of {CUSTOMER_ID_RULE}; or a whole number from 0 to "
    f"{CUSTOMER_ID_NUMBER_MAX} (send a larger one as text)"
)
# values at the edges of what a customer id may be, and whether each is one
ID_EDGES: list[tuple[Any, bool]] = [
    ("F1", True),
    (" F1 ", True),  # surrounding spaces are dropped (which the published pattern omits)
    ("x" * 64, True),
    (0, True),
    (300, True),
    (300.0, True),  # JSON Schema's integer includes 300.0
    (CUSTOMER_ID_NUMBER_MAX, True),
    (float(CUSTOMER_ID_NUMBER_MAX), True),
    ("F 1", False),
    ("", False),
    ("x" * 65, False),
    ("Müller", False),
    (-1, False),  # a negative number is more likely a placeholder than an id
    (CUSTOMER_ID_NUMBER_MAX + 1, False),
    (10**70, False),
    (1e300, False),
    (300.5, False),
    (True, False),
    ([1], False),
    ({"id": "F1"}, False),
]


@pytest.mark.parametrize("bad", [value for value, valid in ID_EDGES if not valid])
def test_a_bad_customer_id_is_told_in_words(bad: object) -> None:
    """One error saying what an id may hold, not the regular expression, whatever is wrong."""
    with pytest.raises(ValidationError) as caught:
        build_row_model(DEFAULT_SCHEMA).model_validate_json(
            json.dumps({**SEED_BODY, "customer_id": bad})
        )
    [error] = caught.value.errors()
    assert error["loc"] == ("customer_id",)
    assert error["msg"] == ID_MESSAGE


@pytest.mark.parametrize(
    ("sent", "read"),
    [(42, "42"), (300.0, "300"), (0, "0"), (CUSTOMER_ID_NUMBER_MAX, str(CUSTOMER_ID_NUMBER_MAX))],
)
def test_a_whole_number_customer_id_is_its_decimal_text(sent: object, read: str) -> None:
    """In a JSON body and in a parsed one (a batch's rows validated one by one)."""
    row_model = build_row_model(DEFAULT_SCHEMA)
    body = {**SEED_BODY, "customer_id": sent}
    assert row_model.model_validate_json(json.dumps(body)).customer_id == read  # type: ignore[attr-defined]
    assert row_model.model_validate(body).customer_id == read  # type: ignore[attr-defined]


def test_a_numeric_customer_id_is_read_as_prepare_reads_it_in_a_csv() -> None:
    """The JSON integer 7000 and the text "7000" are the same id, the one ``prepare`` reads
    from a CSV's 7000: A/B assignment hashes that text, so both must give the same."""
    raw = pd.DataFrame([("7000", *map(str, SEED_BODY.values()), "0")])
    raw.columns = [DEFAULT_SCHEMA.id_column, *SEED_BODY, DEFAULT_SCHEMA.label]
    prepared = prepare_frame(raw.astype(object), DEFAULT_SCHEMA)[0][DEFAULT_SCHEMA.id_column][0]
    row_model = build_row_model(DEFAULT_SCHEMA)
    for sent in (7000, 7000.0, "7000", " 7000 "):
        row = row_model.model_validate_json(json.dumps({**SEED_BODY, "customer_id": sent}))
        assert row.customer_id == prepared == "7000"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("value", "valid"), [edge for edge in ID_EDGES if edge[0] != " F1 "])
def test_the_published_customer_id_schema_is_what_is_accepted(value: Any, valid: bool) -> None:
    """The OpenAPI document's customer_id schema (a JSON Schema) and the validation agree at
    the edges: a schema-valid id is never refused, nor a schema-invalid one accepted. (Not
    for surrounding spaces, which are dropped but which the pattern does not mention.)"""
    row_model = build_row_model(DEFAULT_SCHEMA)
    published = row_model.model_json_schema()["properties"][DEFAULT_SCHEMA.id_column]
    assert jsonschema.Draft202012Validator(published).is_valid(value) == valid
    body = json.dumps({**SEED_BODY, "customer_id": value})
    try:
        row_model.model_validate_json(body)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == valid
