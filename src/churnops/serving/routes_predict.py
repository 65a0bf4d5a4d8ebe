"""``POST /predict`` and ``POST /predict/batch``: validate, encode, score, log, answer.

The request types are built at run time from the feature schema, so this module does not use
``from __future__ import annotations``: FastAPI reads the real classes from the signatures.
Each request takes ``predictor.current`` once, so a hot swap never splits an answer.
"""

import math
import time
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Request, Response, status

from churnops.serving.json_route import JsonBodyRoute
from churnops.serving.middleware import REQUEST_ID, STARTED
from churnops.serving.predictor import LoadedModel
from churnops.serving.schemas import BatchPrediction, Prediction
from churnops.serving.state import ServingState

JSON = "application/json"
ROW_BODY_BYTES = 64 * 1024  # one customer is a few hundred bytes, even with a large schema
BODY_LIMITS = {"/predict": (ROW_BODY_BYTES, "one customer; send many to /predict/batch")}
ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"description": "Body larger than 64 KiB (/predict) or CHURNOPS_MAX_BODY_BYTES"},
    415: {"description": "Body not sent as application/json"},
    503: {"description": "No verified model is loaded yet (see /health/ready)"},
}


def add_prediction_routes(app: FastAPI, state: ServingState) -> None:
    """Routes go on the app itself: an included router adds a matching layer per request."""
    Row = state.models.row
    Batch = state.models.batch
    predictor, log, metrics = state.predictor, state.log, state.metrics
    id_column = state.schema.id_column
    column_names = [*state.schema.feature_names, id_column]
    retry_after = str(math.ceil(state.settings.poll_interval))

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

    async def predict(row: Row, request: Request) -> Response:  # type: ignore[valid-type]
        # async: the work is tens of microseconds, less than a hop to the thread pool
        loaded = serving_model()
        probability = float(loaded.predict(loaded.encoder.encode_one(row))[0])
        churn = probability >= loaded.threshold
        scope = request.scope
        rid = scope[REQUEST_ID]
        if log is not None:
            latency_ms = (time.perf_counter() - scope[STARTED]) * 1000.0
            log.submit(
                (log.row(time.time(), rid, loaded.version, row, probability, churn, latency_ms),)
            )
        metrics.count_predictions(loaded.version, 1)
        metrics.probabilities.observe_one(probability)
        answer = {
            "request_id": rid,
            "model_version": loaded.version,
            "churn_probability": probability,
            "churn": churn,
            "threshold": loaded.threshold,
            "customer_id": getattr(row, id_column),
        }
        return Response(orjson.dumps(answer), media_type=JSON)

    def predict_batch(rows: Batch, request: Request) -> Response:  # type: ignore[valid-type]
        # plain def: validated and run in the thread pool, so a large batch never stalls the loop
        loaded = serving_model()
        validated: list[Any] = rows
        fields = [row.__dict__ for row in validated]  # pydantic keeps validated values there
        columns = {name: [field[name] for field in fields] for name in column_names}
        scores = loaded.predict(loaded.encoder.encode_columns(columns))
        probabilities: list[float] = scores.tolist()
        decisions: list[bool] = (scores >= loaded.threshold).tolist()
        scope = request.scope
        rid = scope[REQUEST_ID]
        if log is not None:
            latency_ms = (time.perf_counter() - scope[STARTED]) * 1000.0
            log.submit(
                log.rows(
                    time.time(), rid, loaded.version, columns, probabilities, decisions, latency_ms
                )
            )
        metrics.count_predictions(loaded.version, len(validated))
        metrics.probabilities.observe_many(scores)
        items = [
            {"churn_probability": p, "churn": d, "customer_id": c}
            for p, d, c in zip(probabilities, decisions, columns[id_column], strict=True)
        ]
        answer = {
            "request_id": rid,
            "model_version": loaded.version,
            "threshold": loaded.threshold,
            "count": len(items),
            "predictions": items,
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
