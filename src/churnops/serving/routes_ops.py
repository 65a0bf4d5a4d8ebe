"""Operations endpoints: ``/``, ``/model-info``, health probes, ``/metrics`` and admin reload."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import FastAPI, Response, status
from fastapi.responses import JSONResponse

from churnops import __version__
from churnops.serving.inference_log import InferenceLogWriter
from churnops.serving.metrics import CONTENT_TYPE
from churnops.serving.predictor import LoadedModel, Predictor
from churnops.serving.schemas import (
    ExperimentServing,
    Liveness,
    LogHealth,
    ModelInfo,
    Readiness,
    ReloadResult,
)
from churnops.serving.security import token_first
from churnops.serving.state import ServingState

ENDPOINTS = {
    "predict": "POST /predict",
    "predict_batch": "POST /predict/batch",
    "model_info": "GET /model-info",
    "live": "GET /health/live",
    "ready": "GET /health/ready",
    "metrics": "GET /metrics",
    "reload": "POST /admin/reload (admin token)",
}


def log_health(log: InferenceLogWriter | None) -> LogHealth | None:
    if log is None:
        return None
    return LogHealth(
        writer_running=log.running,
        written=log.written,
        pending=log.pending,
        dropped=log.dropped,
        failed=log.failed,
        last_error=log.last_error,
    )


def example_body(current: LoadedModel | None) -> dict[str, Any] | None:
    """The documented example body of the model serving (None before one is loaded)."""
    if current is None:
        return None
    examples: list[dict[str, Any]] = current.inputs.row_model.model_json_schema()["examples"]
    return examples[0]


def experiment_serving(predictor: Predictor) -> ExperimentServing | None:
    serving = predictor.serving
    running = serving.experiment if serving is not None else None
    if running is None:
        return None
    experiment = running.experiment
    return ExperimentServing(
        **experiment.model_dump(exclude={"started_by"}),
        challenger_loaded_at=running.challenger.loaded_at,
    )


def add_ops_routes(app: FastAPI, state: ServingState) -> None:
    predictor = state.predictor

    @app.get("/", tags=["service"], summary="What this service is")
    async def root() -> dict[str, Any]:
        current = predictor.current
        return {
            "service": "churnops churn-prediction API",
            "version": __version__,
            "ready": current is not None,
            "model_version": current.version if current else None,
            "docs": "/docs",
            "openapi": "/openapi.json",
            "endpoints": ENDPOINTS,
            "example": {"POST /predict": example_body(current)},
        }

    @app.get("/model-info", response_model=ModelInfo, tags=["service"])
    async def model_info() -> ModelInfo:
        """The serving model's registry record, when it was loaded, and the last reload error."""
        current = predictor.current
        info = ModelInfo(
            ready=current is not None,
            last_reload_error=predictor.last_reload_error,
            last_check_at=predictor.last_check_at,
            pointer_warning=predictor.pointer_warning,
            experiment_error=predictor.experiment_error,
            registry_updates=state.updates.mechanism,
            last_swap_by=state.updates.last_swap_by,
        )
        if current is None:
            return info
        entry = current.entry
        return info.model_copy(
            update={
                "version": entry.version,
                "file": entry.file,
                "onnx_file": entry.onnx_file,
                "created_at": entry.created_at,
                "loaded_at": current.loaded_at,
                "threshold": entry.threshold,
                "sha256": entry.sha256,
                "onnx_sha256": entry.onnx_sha256,
                "metrics": entry.metrics,
                "hyperparameters": entry.hyperparameters,
                "feature_schema": entry.feature_schema,
                "experiment": experiment_serving(predictor),
            }
        )

    @app.get("/health/live", response_model=Liveness, tags=["health"])
    async def live() -> Liveness:
        """The process answers (restart the container if this fails)."""
        return Liveness()

    @app.get(
        "/health/ready",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "No verified model is loaded"}},
        tags=["health"],
    )
    async def ready() -> Any:
        """Ready only while a verified model is loaded (send traffic only then); also how the
        inference log's writer is doing."""
        current = predictor.current
        log = log_health(state.log)
        if current is not None:  # a refused swap keeps this version: ``reason`` says why
            return Readiness(
                status="ready",
                model_version=current.version,
                reason=predictor.last_reload_error,
                inference_log=log,
                experiment_error=predictor.experiment_error,
            )
        body = Readiness(status="not ready", reason=predictor.not_ready_reason, inference_log=log)
        return JSONResponse(body.model_dump(), status_code=status.HTTP_503_SERVICE_UNAVAILABLE)

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text"}},
        tags=["service"],
    )
    def metrics() -> Response:
        """Prometheus exposition of this process's metrics."""
        return Response(state.metrics.exposition(), media_type=CONTENT_TYPE)

    async def reload() -> ReloadResult:
        """Check the registry now — its current version and its experiment — and retry a
        version that failed verification."""
        outcome = await anyio.to_thread.run_sync(predictor.refresh, True)
        serving = predictor.serving
        running = None if serving is None else serving.experiment
        return ReloadResult(
            changed=outcome.changed,
            model_version=outcome.version,
            error=outcome.error,
            experiment_id=None if running is None else running.experiment.id,
            experiment_error=predictor.experiment_error,
        )

    app.router.add_api_route(
        "/admin/reload",
        reload,
        methods=["POST"],
        response_model=ReloadResult,
        route_class_override=token_first(state.admin),  # the token before anything else
        responses={
            401: {"description": "Wrong token"},
            403: {"description": "Admin disabled"},
            413: {"description": "Body larger than CHURNOPS_MAX_BODY_BYTES (send none)"},
            429: {"description": "Too many wrong tokens lately"},
        },
        tags=["admin"],
    )
