"""``POST /predict`` and ``POST /predict/batch``: validate, encode, route, score, log, answer.

Each request takes ``predictor.serving`` once and uses that one object to the end: the
champion — with the request model, encoder and log layout of the schema it was trained on
(``LoadedModel.inputs``) — and the running experiment, if any (``serving.routing``). A hot
swap — even to a version with other features — never mixes two versions in one answer.
Without a model nothing can be validated: the answer is 503.

During an experiment each row is answered by its route (a batch per row), and the answer says
which version and variant gave it: ``variant``, ``variant_random`` and ``experiment_id`` in
the body (per row in a batch) and the ``X-Churnops-Variant`` header (a batch's lists the
variants that answered it). Every answer carries ``X-Churnops-Model-Version``; outside an
experiment the body is unchanged.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Request, Response, status

from churnops.serving.errors import MAX_ERRORS
from churnops.serving.inference_log import NO_EXPERIMENT
from churnops.serving.json_route import JsonBody, JsonBodyRoute
from churnops.serving.middleware import REQUEST_ID, STARTED
from churnops.serving.routing import RawHeaders, Serving, answer_rows, shadow_job
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


def json_answer(answer: dict[str, Any], headers: RawHeaders) -> Response:
    """The answer as JSON, with headers encoded beforehand (``Response`` would encode a dict's
    every time)."""
    response = Response(orjson.dumps(answer), media_type=JSON)
    response.raw_headers.extend(headers)
    return response


def add_prediction_routes(app: FastAPI, state: ServingState) -> None:
    """Routes go on the app itself: an included router adds a matching layer per request."""
    predictor, log, metrics = state.predictor, state.log, state.metrics
    retry_after = str(math.ceil(state.settings.poll_interval))
    # validation holds the GIL: batches are validated one at a time (see ``json_route``)
    validating = threading.Lock()

    def serving_now() -> Serving:
        serving = predictor.serving
        if serving is None:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"no model is loaded yet: {predictor.not_ready_reason}; see /health/ready",
                headers={"Retry-After": retry_after},
            )
        return serving

    async def predict(request: Request, body: JsonBody) -> Response:
        # async: the work is tens of microseconds, less than a hop to the thread pool
        serving = serving_now()
        champion = serving.champion
        inputs = champion.inputs
        row = inputs.row(body)
        customer_id = getattr(row, inputs.schema.id_column)
        matrix = inputs.encoder.encode_one(row)
        running = serving.experiment
        route = None if running is None else running.route(customer_id)
        loaded = champion if route is None else route.model
        probability = float(loaded.predict(matrix)[0])
        churn = probability >= loaded.threshold
        scope = request.scope
        rid = scope[REQUEST_ID]
        if log is not None:
            latency_ms = (time.perf_counter() - scope[STARTED]) * 1000.0
            marks = NO_EXPERIMENT if route is None else route.log_marks
            logged = inputs.log.row(
                time.time(), rid, loaded.version, row, probability, churn, latency_ms, marks
            )
            log.submit(inputs.log, (logged,), shadow_job(route, matrix))
        metrics.count_predictions(loaded.version, 1, route)
        metrics.probabilities.observe_one(probability)
        answer = {
            "request_id": rid,
            "model_version": loaded.version,
            "churn_probability": probability,
            "churn": churn,
            "threshold": loaded.threshold,
            "customer_id": customer_id,
        }
        if route is None:
            return json_answer(answer, champion.headers)
        answer.update(route.fields)
        return json_answer(answer, route.headers)

    def predict_batch(request: Request, body: JsonBody) -> Response:
        # plain def: validated and run in the thread pool, so a large batch never stalls the loop
        serving = serving_now()
        inputs = serving.champion.inputs
        with validating:
            batch = inputs.batch(body)
        id_column = inputs.schema.id_column
        fields = [row.__dict__ for row in batch.rows]  # pydantic keeps validated values there
        names = [*inputs.schema.feature_names, id_column]
        columns = {name: [field[name] for field in fields] for name in names}
        matrix = inputs.encoder.encode_columns(columns)
        scope = request.scope
        rid = scope[REQUEST_ID]
        answered = answer_rows(serving, matrix, columns[id_column])
        if log is not None:
            latency_ms = (time.perf_counter() - scope[STARTED]) * 1000.0
            for part in answered.parts:
                rows = inputs.log.rows(
                    time.time(),
                    rid,
                    part.version,
                    part.columns(columns),
                    part.probabilities,
                    part.decisions,
                    latency_ms,
                    part.log_marks,
                )
                log.submit(inputs.log, rows, answered.shadow)
        for part in answered.parts:
            metrics.count_predictions(part.version, len(part.positions), part.route)
        metrics.probabilities.observe_many(answered.scores)
        answer = {
            "request_id": rid,
            "model_version": serving.champion.version,
            "threshold": serving.champion.threshold,
            "count": len(batch.rows),
            "predictions": answered.items(batch.positions, columns[id_column]),
            "rows_refused": batch.rows_refused,
            "errors": batch.errors,
            "error_count": batch.error_count,
        }
        return json_answer(answer, answered.headers)

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
