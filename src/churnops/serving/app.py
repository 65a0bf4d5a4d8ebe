"""The FastAPI app factory: builds per-process state, routes and the lifespan.

The request models come from the model serving (each version brings the feature schema it was
trained on), so the app has no schema of its own. Building the app does no I/O. The lifespan
raises the open-files limit, starts the connection guard (handed to the HTTP protocol through
the lifespan state), opens the inference log, loads the current model (the app starts, not
ready, on an empty registry), polls the registry (and, with several workers, publishes this
worker's metrics), and on shutdown — after the server has finished in-flight requests — writes
the buffered log rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from churnops import __version__
from churnops.serving.connections import GUARD_STATE_KEY, ConnectionGuard, raise_open_files_limit
from churnops.serving.docs import add_docs_routes
from churnops.serving.errors import validation_failed
from churnops.serving.inference_log import InferenceLogWriter
from churnops.serving.inputs import ModelInputs
from churnops.serving.metrics import ProtectionCollector, ServingMetrics
from churnops.serving.middleware import RequestContextMiddleware
from churnops.serving.openapi import ServingDocument
from churnops.serving.predictor import Predictor
from churnops.serving.registry_updates import RegistryUpdates, follow_registry
from churnops.serving.routes_feedback import add_feedback_routes
from churnops.serving.routes_ops import add_ops_routes
from churnops.serving.routes_predict import BODY_LIMITS, add_prediction_routes
from churnops.serving.security import AdminGuard, TokenFirstRoute
from churnops.serving.state import ServingState
from churnops.serving.worker_metrics import metrics_folder
from churnops.settings import Settings, load_settings

logger = logging.getLogger("churnops.serving")

DRIFT_REPORT = "drift_latest.json"
DESCRIPTION = """Churn probability of customers, from the registry's current model (ONNX Runtime).

The model is hot-swapped when the registry's current version changes (promote / rollback),
after verification. The request bodies are those of the model serving: a version trained on
other features brings its own, and this document follows. Every prediction is recorded in the
inference log for drift monitoring."""
# Every group of routes, added in this order: a new area adds its function here.
ROUTES: tuple[Callable[[FastAPI, ServingState], None], ...] = (
    add_prediction_routes,
    add_ops_routes,
    add_feedback_routes,
    add_docs_routes,
)


def build_state(settings: Settings) -> ServingState:
    inputs_for = functools.partial(
        ModelInputs,
        batch_limit=settings.batch_limit,
        extra=settings.api_extra_fields,
        batch_errors=settings.batch_errors,
    )
    predictor = Predictor(settings, inputs_for)
    log = (
        InferenceLogWriter(
            settings.log_location,
            capacity=settings.log_queue_size,
            batch_size=settings.log_batch_size,
            flush_interval=settings.log_flush_interval,
            shutdown_timeout=settings.log_shutdown_timeout,
        )
        if settings.inference_log
        else None
    )
    connections = ConnectionGuard(
        settings.header_timeout, settings.body_timeout, settings.max_connections
    )
    admin = AdminGuard(settings.admin_token)
    drift_report = settings.reports_dir / DRIFT_REPORT
    return ServingState(
        settings=settings,
        predictor=predictor,
        log=log,
        metrics=ServingMetrics(
            predictor,
            log,
            drift_report,
            ProtectionCollector(connections, admin),
            worker_files=metrics_folder(),
        ),
        connections=connections,
        admin=admin,
        updates=RegistryUpdates(),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    return app_for(build_state(settings or load_settings()))


def app_for(state: ServingState) -> FastAPI:
    """The app serving ``state`` (its lifespan starts and stops what ``state`` holds)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        state.connections.start(open_files=raise_open_files_limit())
        if state.log is not None:  # a SQLite file that cannot be opened: CannotServeError
            await anyio.to_thread.run_sync(state.log.start)
        await anyio.to_thread.run_sync(state.predictor.refresh)
        if state.predictor.current is None:
            logger.warning("starting without a model: %s", state.predictor.not_ready_reason)
        state.updates.start(state.settings.database)
        tasks = (
            asyncio.create_task(
                follow_registry(state.predictor, state.settings.poll_interval, state.updates)
            ),
            asyncio.create_task(state.metrics.publish_while_serving()),
        )
        try:
            yield {GUARD_STATE_KEY: state.connections}
        finally:
            state.connections.stop()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await anyio.to_thread.run_sync(state.updates.stop)
            if state.log is not None:
                await anyio.to_thread.run_sync(state.log.close)
            state.metrics.close()  # after the log's last rows: their counts go out too

    app = FastAPI(
        title="churnops prediction API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by ``docs`` without a CDN
        redoc_url=None,
    )
    app.openapi = ServingDocument(app, state.predictor, state.settings.batch_limit)  # type: ignore[method-assign]
    app.add_exception_handler(RequestValidationError, validation_failed)
    for add_routes in ROUTES:
        add_routes(app, state)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=state.metrics,
        max_body=state.settings.max_body_bytes,
        path_limits=BODY_LIMITS,
        token_paths=frozenset(
            route.path for route in app.routes if isinstance(route, TokenFirstRoute)
        ),
    )
    return app
