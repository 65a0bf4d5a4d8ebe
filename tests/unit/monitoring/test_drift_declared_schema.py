"""Drift and the shifts follow the declared schema: its aliases, its declared scales, its CSV
column names, and only the features it has."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from drift_helpers import customers, judge_frames

from churnops.errors import BadInputError
from churnops.monitoring.drift import reading_schema
from churnops.monitoring.reference import by_feature_names
from churnops.monitoring.shifts import SHIFTS, apply_shift, fitting_shifts
from churnops.monitoring.simulate import Population, simulated_frame
from churnops.schema import DEFAULT_SCHEMA, CategoricalFeature, FeatureSchema, NumericFeature

PLANS = ("basic", "pro", "enterprise")


def plans_schema(scale: str | None = None, column: str | None = None) -> FeatureSchema:
    """A small user schema: a heavy-tailed balance (of the declared ``scale``), an age, and a
    plan with declared aliases."""
    return FeatureSchema(
        numeric=(
            NumericFeature(
                name="balance", kind="float", min=0, max=1e7, scale=scale, column=column
            ),
            NumericFeature(name="age", kind="int", min=18, max=100, scale=scale),
        ),
        categorical=(
            CategoricalFeature(
                name="plan", categories=PLANS, aliases={"starter": "basic", "biz": "enterprise"}
            ),
        ),
    )


def accounts(rows: int, seed: int, rise: float = 1.0) -> pd.DataFrame:
    """Balances lognormal (σ 1.2: std ≈ 1.8 × mean), ages around 40 (std 8), three plans;
    ``rise`` multiplies every balance."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "balance": rng.lognormal(8.0, 1.2, rows) * rise,
            "age": np.clip(np.rint(rng.normal(40, 8, rows)), 18, 100),
            "plan": rng.choice(PLANS, rows, p=[0.5, 0.35, 0.15]),
        }
    )


def test_categories_are_respelled_with_the_schemas_own_aliases() -> None:
    """It reads 'Starter', ' STARTER ' and 'biz' in a file as the categories the schema's
    aliases name (as prepare would), not as values never seen in training."""
    current = accounts(2_000, 2)
    current["plan"] = current["plan"].replace({"basic": " STARTER ", "enterprise": "biz"})
    current.loc[:9, "plan"] = "Starter"
    plan = judge_frames(accounts(5_000, 1), current, schema=plans_schema()).features["plan"]
    assert plan.unseen_values == {} and plan.status == "ok"


@pytest.mark.parametrize(("declared", "flagged"), [(None, "drift"), ("interval", "warning")])
def test_a_declared_scale_decides_the_mean_change_effect(declared: str, flagged: str) -> None:
    """A 10 % rise of a heavy-tailed balance moves its std-normalised Wasserstein distance by
    only ~0.06 but its mean by 10 %: inferred (or declared) ratio scale, it drifts on the mean
    change; declared interval, the mean is not an effect and it is only a warning."""
    schema = plans_schema(scale=declared)
    result = judge_frames(accounts(20_000, 1), accounts(20_000, 2, rise=1.1), schema=schema)
    balance = result.features["balance"]
    assert balance.status == flagged, balance.reasons
    ratio = declared is None
    assert balance.reference_scale and balance.reference_scale.scale == (
        "ratio" if ratio else "interval"
    )
    assert balance.numeric and (balance.numeric.mean_change is not None) == ratio


def test_a_declared_ratio_scale_is_used_where_it_would_not_be_inferred() -> None:
    """Ages (std a fifth of the mean) are inferred interval; declared ratio, their mean change
    is reported; an all-zero reference has no mean to change relative to."""
    reference, current = accounts(3_000, 1), accounts(1_000, 2)
    for declared, scale in ((None, "interval"), ("ratio", "ratio")):
        age = judge_frames(reference, current, schema=plans_schema(declared)).features["age"]
        assert age.reference_scale and age.reference_scale.scale == scale
        assert age.numeric and (age.numeric.mean_change is not None) == (scale == "ratio")
    zeros = reference.assign(balance=0.0)
    balance = judge_frames(zeros, current, schema=plans_schema("ratio")).features["balance"]
    assert balance.reference_scale and balance.reference_scale.scale == "interval"


def test_a_table_is_read_by_feature_names_or_by_the_schemas_csv_columns() -> None:
    """It keeps a table holding the feature names, renames one holding the CSV columns the
    schema reads (lower case, as read_raw gives them), and decides by the majority when a
    column name is both a feature and another feature's CSV column."""
    schema = plans_schema(column="AccountBalance")
    named = pd.DataFrame({"balance": [1.0], "age": [30], "plan": ["pro"]})
    assert by_feature_names(named, schema) == (named, False)
    export = pd.DataFrame({"accountbalance": [1.0], "age": [30], "plan": ["pro"], "x": [0]})
    renamed, by_source = by_feature_names(export, schema)
    assert by_source and list(renamed.columns) == ["balance", "age", "plan", "x"]
    crossed = FeatureSchema(
        numeric=(NumericFeature(name="old_plan", kind="int", min=0, max=9, column="plan"),),
        categorical=(CategoricalFeature(name="plan", categories=PLANS, column="new_plan"),),
    )
    both = pd.DataFrame({"plan": [3], "new_plan": ["pro"]})
    renamed, by_source = by_feature_names(both, crossed)
    assert by_source and renamed.to_dict("records") == [{"old_plan": 3, "plan": "pro"}]


def test_every_shift_fits_the_built_in_schema_and_few_fit_others() -> None:
    """The named shifts are the built-in schema's; another schema takes those whose features
    it has, by name, type and (for the contract mix) categories."""
    assert fitting_shifts(DEFAULT_SCHEMA) == list(SHIFTS)
    assert fitting_shifts(plans_schema()) == ["missing-values"]
    renamed = DEFAULT_SCHEMA.model_copy(
        update={
            "categorical": (
                CategoricalFeature(name="contract_type", categories=("Monthly", "Yearly")),
                DEFAULT_SCHEMA.categorical_feature("payment_method"),
            )
        }
    )
    assert "contract-shift" not in fitting_shifts(renamed)


def test_a_shift_needing_a_feature_the_schema_lacks_is_refused() -> None:
    """It refuses a shift naming features the schema does not have, says which and which
    shifts would fit, and applies missing-values to the schema's own features."""
    frame = accounts(200, 1)
    rng = np.random.default_rng(0)
    with pytest.raises(BadInputError) as refused:
        apply_shift(frame, "price-increase", rng, plans_schema(), "v2's schema")
    message = str(refused.value)
    assert "monthly_charges (a number)" in message and "v2's schema lacks" in message
    assert message.endswith("shifts that fit it: missing-values")
    blanked = apply_shift(frame, "missing-values", rng, plans_schema())
    assert all(blanked[name].isna().any() for name in ("balance", "age", "plan"))


def test_customers_are_drawn_from_a_sample_seeded() -> None:
    """It draws customers with replacement from a version's sample: the same rows for the same
    seed, new unique ids, the sample's values only, the shift applied after the draw."""
    sample = customers(500, 1).drop(columns=["customer_id", "churn"])
    drawn = Population(DEFAULT_SCHEMA, sample)
    first = simulated_frame(2_000, 5, None, drawn)
    assert first.equals(simulated_frame(2_000, 5, None, drawn))
    assert not first.equals(simulated_frame(2_000, 6, None, drawn))
    assert list(first.columns) == ["customer_id", *DEFAULT_SCHEMA.feature_names]
    assert first["customer_id"].is_unique
    assert set(first["tenure"]) <= set(sample["tenure"])
    pricier = simulated_frame(2_000, 5, "price-increase", drawn)
    assert pricier["tenure"].equals(first["tenure"])
    assert pricier["monthly_charges"].sum() > 1.09 * first["monthly_charges"].sum()


def test_one_query_reads_the_columns_of_every_schema() -> None:
    """Reading a log of several schemas names each feature once, as first declared."""
    other = plans_schema()
    union = reading_schema([DEFAULT_SCHEMA, other])
    assert union.feature_names[: len(DEFAULT_SCHEMA.numeric)] == DEFAULT_SCHEMA.numeric_names
    assert set(union.feature_names) == set(DEFAULT_SCHEMA.feature_names) | {
        "balance",
        "age",
        "plan",
    }
    clash = FeatureSchema(
        numeric=(), categorical=(CategoricalFeature(name="tenure", categories=("new", "old")),)
    )
    assert "tenure" in reading_schema([DEFAULT_SCHEMA, clash]).numeric_names
    assert "tenure" not in reading_schema([DEFAULT_SCHEMA, clash]).categorical_names
