"""The two reference apps the API is measured against (benchmarks only, never served).

* ``bare``: a FastAPI endpoint with the same pydantic request body as ``/predict`` that
  returns a constant — the ceiling of FastAPI + uvicorn on this machine.
* ``seed``: the seed lab's style — load the ``.joblib`` pipeline, build a one-row pandas
  DataFrame per request and call scikit-learn's ``predict_proba``.

Run with ``uvicorn --factory benchmarks.baseline_apps:bare_app`` (or ``seed_app``); the seed
app reads the project folder from ``CHURNOPS_HOME``.
"""

from __future__ import annotations

from typing import Any

import joblib
import pandas as pd
from fastapi import FastAPI

from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA
from churnops.serving.schemas import build_row_model
from churnops.settings import load_settings

Row = build_row_model(DEFAULT_SCHEMA)


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.post("/predict")
    async def predict(row: Row) -> dict[str, Any]:  # type: ignore[valid-type]
        return {"churn_probability": 0.5, "churn": True, "model_version": 0}

    return app


def seed_app() -> FastAPI:
    registry = Registry(load_settings())
    entry = registry.read().current
    if entry is None:
        raise SystemExit("the registry has no current model; run `churnops pipeline` first")
    pipeline = joblib.load(registry.artifact_path(entry))
    app = FastAPI()

    @app.post("/predict")
    def predict(row: Row) -> dict[str, Any]:  # type: ignore[valid-type]
        frame = pd.DataFrame([row.model_dump(exclude={"customer_id"})])  # type: ignore[attr-defined]
        probability = float(pipeline.predict_proba(frame)[0, 1])
        return {
            "churn_probability": probability,
            "churn": probability >= entry.threshold,
            "model_version": entry.version,
        }

    return app
