"""Export the fitted forest to ONNX and prove the served path gives the same probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline

from churnops.errors import CheckFailedError
from churnops.model.onnx_calibrated import calibrated_onnx
from churnops.model.onnx_model import INPUT_NAME, OnnxModel
from churnops.schema import FeatureSchema

MAX_PARITY_GAP = 1e-5


def export_onnx(pipeline: Pipeline, schema: FeatureSchema) -> bytes:
    """The classifier alone, fed the schema-encoded matrix as one float32 input — the precision
    scikit-learn's trees compare in, so no split flips between the two. A calibrated forest
    has a graph of its own (see ``onnx_calibrated`` for why)."""
    forest = pipeline.named_steps["model"]
    width = len(schema.encoded_names)
    if isinstance(forest, CalibratedClassifierCV):
        return calibrated_onnx(forest, width)
    graph = to_onnx(
        forest,
        initial_types=[(INPUT_NAME, FloatTensorType([None, width]))],
        options={id(forest): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return bytes(graph.SerializeToString())


def check_parity(pipeline: Pipeline, model: OnnxModel, frame: pd.DataFrame) -> float:
    """Max |ONNX − scikit-learn| probability on ``frame``; refuses the export above 1e-5."""
    expected = pipeline.predict_proba(frame[model.schema.feature_names])[:, 1]
    served = model.predict_frame(frame)
    gap = float(np.max(np.abs(expected - served))) if len(frame) else 0.0
    if not gap <= MAX_PARITY_GAP:
        raise CheckFailedError(
            f"the ONNX export disagrees with scikit-learn by {gap:.2e} (limit {MAX_PARITY_GAP}); "
            "the model was not registered"
        )
    return gap
