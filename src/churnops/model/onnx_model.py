"""Scoring with the exported ONNX graph: what the API and every check after training use.

The graph has one float32 input, the schema's encoded matrix (see ``FeatureSchema.encode``),
so serving never unpickles a file and needs no scikit-learn on the request path. Its output is
the churn probability (``PROBABILITY_OUTPUT``, one column); graphs of calibrated models, and of
versions exported before that output existed, give skl2onnx's ``probabilities`` ([stay,
churn]) instead, read the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd

from churnops.schema import FeatureSchema

INPUT_NAME = "features"
PROBABILITY_OUTPUT = "churn_probability"


def session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one thread per worker: no oversubscription
    options.inter_op_num_threads = 1
    return options


class OnnxModel:
    def __init__(self, onnx_bytes: bytes, schema: FeatureSchema) -> None:
        self.schema = schema
        self.session = ort.InferenceSession(
            onnx_bytes, session_options(), providers=["CPUExecutionProvider"]
        )
        names = [output.name for output in self.session.get_outputs()]
        # (the output, its churn column): label and [stay, churn] in the older graphs
        self._churn = (PROBABILITY_OUTPUT, 0) if PROBABILITY_OUTPUT in names else (names[1], 1)

    @classmethod
    def load(cls, path: Path, schema: FeatureSchema) -> OnnxModel:
        return cls(path.read_bytes(), schema)

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Churn probabilities for an encoded matrix (as float32, like scikit-learn's trees)."""
        inputs = {INPUT_NAME: np.asarray(matrix, dtype=np.float32)}
        name, column = self._churn
        out = self.session.run([name], inputs)[0]
        return np.asarray(out[:, column], dtype=np.float64)

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predict_matrix(self.schema.encode(frame))
