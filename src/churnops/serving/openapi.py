"""The OpenAPI document (``/openapi.json``, ``/docs``, ``/redoc``) of the model serving.

The prediction endpoints validate with the request model of the model serving, which a
promotion or a rollback can change (another version, other features). FastAPI builds its
document once and keeps it in ``app.openapi_schema``; ``ServingDocument`` replaces
``app.openapi`` (FastAPI's documented way to customise the document) and builds it again
whenever the serving model's inputs are other ones than those it was built for, then puts
their request bodies in: the row model under ``components/schemas/CustomerFeatures`` and a
list of 1 to ``batch_limit`` of them for the batch endpoint. Before any model is loaded the
bodies are described as objects whose fields the first model will decide.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from churnops.serving.inputs import ModelInputs
from churnops.serving.predictor import Predictor

ROW = "CustomerFeatures"
REF = {"$ref": f"#/components/schemas/{ROW}"}
NO_MODEL = (
    "No model is serving yet: the fields are the features of the model that will serve "
    "(see /model-info once /health/ready says ready)."
)


def with_request_bodies(
    document: dict[str, Any], inputs: ModelInputs | None, batch_limit: int
) -> dict[str, Any]:
    """``document`` with the prediction endpoints' request bodies for ``inputs``."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    if inputs is None:
        row: dict[str, Any] = {"type": "object", "title": ROW, "description": NO_MODEL}
    else:
        row = inputs.row_model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(row.pop("$defs", {}))
    schemas[ROW] = row
    batch = {
        "type": "array",
        "items": REF,
        "minItems": 1,
        "maxItems": batch_limit,
        "description": f"1 to {batch_limit:,} customers, scored in one call",
    }
    for path, body in (("/predict", REF), ("/predict/batch", batch)):
        operation = document["paths"][path]["post"]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return document


class ServingDocument:
    """``app.openapi``: the document for the inputs of the model serving, rebuilt on a swap."""

    def __init__(self, app: FastAPI, predictor: Predictor, batch_limit: int) -> None:
        self.app = app
        self.predictor = predictor
        self.batch_limit = batch_limit
        self._built = False
        self._inputs: ModelInputs | None = None

    def __call__(self) -> dict[str, Any]:
        current = self.predictor.current
        inputs = current.inputs if current is not None else None
        if not self._built or inputs is not self._inputs or self.app.openapi_schema is None:
            self.app.openapi_schema = None  # FastAPI's own method returns it while it is set
            document = FastAPI.openapi(self.app)
            self.app.openapi_schema = with_request_bodies(document, inputs, self.batch_limit)
            self._built, self._inputs = True, inputs
        return self.app.openapi_schema
