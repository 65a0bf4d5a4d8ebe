"""Validated request rows → the float32 model matrix, without pandas on the request path.

The layout is ``FeatureSchema.encode``'s (numeric features, then each categorical feature
one-hot in its category order), which is the ONNX graph's single input; a unit test holds
the two equal. Building a one-row DataFrame per request would cost more than the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from churnops.schema import FeatureSchema


class RowEncoder:
    def __init__(self, schema: FeatureSchema) -> None:
        self.numeric = tuple(schema.numeric_names)
        self.width = len(schema.encoded_names)
        offset = len(self.numeric)
        columns: list[tuple[str, dict[str, int]]] = []
        for feature in schema.categorical:
            positions = {name: offset + i for i, name in enumerate(feature.categories)}
            columns.append((feature.name, positions))
            offset += len(feature.categories)
        self.categorical = tuple(columns)

    def encode_one(self, row: Any) -> np.ndarray:
        """A (1, width) float32 matrix for one validated row (attributes named as the schema)."""
        vector = [0.0] * self.width
        for index, name in enumerate(self.numeric):
            vector[index] = getattr(row, name)
        for name, positions in self.categorical:
            vector[positions[getattr(row, name)]] = 1.0
        return np.array([vector], dtype=np.float32)

    def encode_columns(self, columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        """An (n, width) float32 matrix from per-feature value lists (a batch, column-wise)."""
        count = len(next(iter(columns.values())))
        matrix = np.zeros((count, self.width), dtype=np.float32)
        for index, name in enumerate(self.numeric):
            matrix[:, index] = columns[name]
        every_row = np.arange(count)
        for name, positions in self.categorical:
            matrix[every_row, [positions[value] for value in columns[name]]] = 1.0
        return matrix
