"""``POST /predict`` and ``POST /predict/batch``: validate, encode, score, log, answer.

Each request takes ``predictor.current`` once and uses that one object to the end: its model,
and the request model, encoder and log layout of the schema that model was trained on
(``LoadedModel.inputs``). A hot swap — even to a version with other features — never mixes
two versions in one answer. Without a model nothing can be validated: the answer is 503.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Request, Response, status

from churnops.serving.errors import MAX_ERRORS
from churnops.serving.json_route import JsonBody, JsonBodyRoute
from churnops.serving.middleware import REQUEST_ID, STARTED
from churnops.serving.predictor import LoadedModel
from churnops.serving.schemas import BatchPrediction, Prediction, ValidationProblem
from churnops.serving.state import ServingState

JSON = "application/json"
ROW_BODY_BYTES = 64 * 1024  # one customer is a few hundred bytes, even with a large schema
BODY_LIMITS = {"/predict": (ROW_BODY_BYTES, "one customer; send many to /predict/batch")}
ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"description": "Body larger than 64 KiB (/predict) or CHURNOPS_MAX_BODY_BYTES"},
    415: {"description": "Body not sent as application/json"},
    422: {
        "model": ValidationProblem,
        "description": f"Bad values: the first {MAX_ERRORS} errors and how many there are",
    },
    503: {"description": "No verified model is loaded yet (see /health/ready)"},
}


def add_prediction_routes(app: FastAPI, state: ServingState) -> None:
    """Routes go on the app itself: an included router adds a matching layer per request."""
    predictor, log, metrics = state.predictor, state.log, state.metrics
    retry_after = str(math.ceil(state.settings.poll_interval))
    # validation holds the GIL: batches are validated one at a time (see ``json_route``)
    validating = threading.Lock()

    def serving_model() -> LoadedModel:
        loaded = predictor.current
        if loaded is None:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "no model is loaded yet: the registry has no verified current model "
                "(run `churnops train`; see /health/ready and /model-info)",
                headers={"Retry-After": retry_after},
            )
        return loaded

    async def predict(request: Request, body: JsonBody) -> Response:
        # async: the work is tens of microseconds, less than a hop to the thread pool
        loaded = serving_model()
        inputs = loaded.inputs
        row = inputs.row(body)
        probability = float(loaded.predict(inputs.encoder.encode_one(row))[0])
        churn = probability >= loaded.threshold
        scope = request.scope
        rid = scope[REQUEST_ID]
        if log is not None:
            latency_ms = (time.perf_counter() - scope[STARTED]) * 1000.0
            logged = inputs.log.row(
                time.time(), rid, loaded.version, row, probability, churn, latency_ms
            )
            log.submit(inputs.log, (logged,))
        metrics.count_predictions(loaded.version, 1)
        metrics.probabilities.observe_one(probability)
        answer = {
            "request_id": rid,
            "model_version": loaded.version,
            "churn_probability": probability,
            "churn": churn,
            "threshold": loaded.threshold,
            "customer_id": getattr(row, inputs.schema.id_column),
        }
        return Response(orjson.dumps(answer), media_type=JSON)

    def predict_batch(request: Request, body: JsonBody) -> Response:
        # plain def: validated and run in the thread pool, so a large batch never stalls the loop
        loaded = serving_model()
        inputs = loaded.inputs
        with validating:
            batch = inputs.batch(body)
        id_column = inputs.schema.id_column
        fields = [row.__dict__ for row in batch.rows]  # pydantic keeps validated values there
        names = [*inputs.schema.feature_names, id_column]
        columns = {name: [field[name] for field in fields] for name in names}
        scores = loaded.predict(inputs.encoder.encode_columns(columns))
        probabilities: list[float] = scores.tolist()
        decisions: list[bool] = (scores >= loaded.threshold).tolist()
        scope = request.scope
        rid = scope[REQUEST_ID]
        if log is not None:
            latency_ms = (time.perf_counter() - scope[STARTED]) * 1000.0
            rows = inputs.log.rows(
                time.time(), rid, loaded.version, columns, probabilities, decisions, latency_ms
            )
            log.submit(inputs.log, rows)
        metrics.count_predictions(loaded.version, len(batch.rows))
        metrics.probabilities.observe_many(scores)
        items = [
            {"row": r, "churn_probability": p, "churn": d, "customer_id": c}
            for r, p, d, c in zip(
                batch.positions, probabilities, decisions, columns[id_column], strict=True
            )
        ]
        answer = {
            "request_id": rid,
            "model_version": loaded.version,
            "threshold": loaded.threshold,
            "count": len(items),
            "predictions": items,
            "rows_refused": batch.rows_refused,
            "errors": batch.errors,
            "error_count": batch.error_count,
        }
        return Response(orjson.dumps(answer), media_type=JSON)

    for path, endpoint, model, summary in (
        ("/predict", predict, Prediction, "Churn probability of one customer"),
        ("/predict/batch", predict_batch, BatchPrediction, "Many customers in one call"),
    ):
        app.router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            response_model=model,
            responses=ERRORS,
            summary=summary,
            tags=["predictions"],
            route_class_override=JsonBodyRoute,
        )
