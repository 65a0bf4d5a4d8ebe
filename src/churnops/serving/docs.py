"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), working without internet.

FastAPI's own pages load their JavaScript and CSS from a CDN, so they are blank on a machine
without internet. These follow FastAPI's self-hosting recipe ("Custom Docs UI Static
Assets"): the same page builders, pointed at files this API serves under ``ASSETS_PATH`` —
the Swagger UI and ReDoc builds shipped in the ``fastapi-offline`` package. No online
validator is called and no web font is loaded. The routes are added after the prediction
routes, so matching a prediction request never tries them first.
"""

from __future__ import annotations

from importlib.resources import files

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from churnops.serving.state import ServingState

ASSETS_PATH = "/docs-assets"
ASSETS = files(fastapi_offline).joinpath("static")  # swagger-ui-bundle.js, redoc.standalone.js…


def add_docs_routes(app: FastAPI, _: ServingState) -> None:
    app.mount(ASSETS_PATH, StaticFiles(directory=str(ASSETS)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no call to an online validator
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
