"""The request-path encoder gives the exact matrix ``FeatureSchema.encode`` gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from churnops.schema import DEFAULT_SCHEMA
from churnops.serving.encoding import RowEncoder
from churnops.serving.schemas import build_row_model

Row = build_row_model(DEFAULT_SCHEMA)


def rows() -> st.SearchStrategy[dict[str, object]]:
    fields: dict[str, st.SearchStrategy[object]] = {}
    for feature in DEFAULT_SCHEMA.numeric:
        if feature.kind == "int":
            fields[feature.name] = st.integers(int(feature.min), int(feature.max))
        else:
            fields[feature.name] = st.floats(feature.min, feature.max, allow_nan=False)
    for category in DEFAULT_SCHEMA.categorical:
        fields[category.name] = st.sampled_from(category.categories)
    return st.fixed_dictionaries(fields)


@settings(max_examples=60, deadline=None)
@given(st.lists(rows(), min_size=1, max_size=20))
def test_encoders_match_the_schema_encoding(values: list[dict[str, object]]) -> None:
    """One row at a time or column-wise, the float32 matrix equals the schema's encoding."""
    encoder = RowEncoder(DEFAULT_SCHEMA)
    expected = DEFAULT_SCHEMA.encode(pd.DataFrame(values)).astype(np.float32)
    validated = [Row.model_validate(value) for value in values]
    one_by_one = np.vstack([encoder.encode_one(row) for row in validated])
    columns = {name: [value[name] for value in values] for name in DEFAULT_SCHEMA.feature_names}
    np.testing.assert_array_equal(one_by_one, expected)
    np.testing.assert_array_equal(encoder.encode_columns(columns), expected)
    assert one_by_one.dtype == np.float32
