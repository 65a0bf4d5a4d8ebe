"""One batch of customers scored: read by ``prepare``'s rules, scored, tiered, as output columns.

The same function runs in the command's worker processes and in each Spark task, so both
engines give the same rows and the same answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from churnops.data.prepare import prepare_frame
from churnops.schema import FeatureSchema

# probability and decision as the API names them; ``drift --current`` reads ``probability``
PROBABILITY = "probability"
DECISION = "decision"
DECILE = "risk_decile"
VERSION = "model_version"
SCORED_AT = "scored_at"
DECILES = np.linspace(0.1, 0.9, 9)

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ScoringSpec:
    """What every batch is scored with; small and picklable, sent once to each worker."""

    version: int
    threshold: float
    schema: FeatureSchema
    # the hold-out's probability deciles (ascending): risk decile 1 is the riskiest tenth
    decile_edges: tuple[float, ...] | None
    scored_at: datetime
    with_features: bool = False

    def output_schema(self) -> pa.Schema:
        fields = [
            pa.field(self.schema.id_column, pa.string()),
            pa.field(PROBABILITY, pa.float64()),
            pa.field(DECISION, pa.bool_()),
            pa.field(DECILE, pa.int8()),
            pa.field(VERSION, pa.string()),
            pa.field(SCORED_AT, pa.timestamp("us", tz="UTC")),
        ]
        if self.with_features:
            fields += [pa.field(f.name, pa.float64()) for f in self.schema.numeric]
            fields += [pa.field(name, pa.string()) for name in self.schema.categorical_names]
        return pa.schema(fields)


def decile_edges(probabilities: np.ndarray) -> tuple[float, ...]:
    return tuple(float(q) for q in np.quantile(probabilities, DECILES))


def risk_deciles(probabilities: np.ndarray, edges: tuple[float, ...] | None) -> np.ndarray:
    """1 for the riskiest tenth of the reference customers' scores … 10 for the safest."""
    if edges is None:
        return np.zeros(len(probabilities), dtype=np.int8)  # written as missing
    rank = np.searchsorted(np.asarray(edges), probabilities, side="right")
    return (10 - rank).astype(np.int8)


@dataclass(frozen=True)
class ScoredBatch:
    scored: pa.Table
    rejected: pd.DataFrame  # the batch's rejected rows as read, with a ``reason`` first
    rows_read: int


def score_frame(raw: pd.DataFrame, spec: ScoringSpec, predict: Predict) -> ScoredBatch:
    """Score ``raw`` (text cells, lower-case column names) with ``predict``."""
    clean, rejected, _ = prepare_frame(raw, spec.schema, labelled=False)
    matrix = spec.schema.encode(clean).astype(np.float32)
    probability = predict(matrix) if len(clean) else np.empty(0)
    columns: list[pa.Array] = [
        pa.array(clean[spec.schema.id_column].to_numpy(dtype=object), pa.string()),
        pa.array(probability, pa.float64()),
        pa.array(probability >= spec.threshold, pa.bool_()),
        pa.array(
            risk_deciles(probability, spec.decile_edges),
            pa.int8(),
            mask=np.full(len(clean), spec.decile_edges is None),
        ),
        pa.repeat(pa.scalar(f"v{spec.version}", pa.string()), len(clean)),
        pa.repeat(pa.scalar(spec.scored_at, pa.timestamp("us", tz="UTC")), len(clean)),
    ]
    if spec.with_features:
        columns += [pa.array(clean[name], pa.float64()) for name in spec.schema.numeric_names]
        columns += [pa.array(clean[name], pa.string()) for name in spec.schema.categorical_names]
    table = pa.Table.from_arrays(columns, schema=spec.output_schema())
    return ScoredBatch(table, rejected, len(raw))
