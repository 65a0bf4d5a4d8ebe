"""The ASGI entry point: ``uvicorn churnops.api:app`` (``churnops serve`` runs it).

Settings come from the environment (``CHURNOPS_HOME``, default: the current folder); building
the app reads nothing else — the model is loaded by the app's lifespan when the server starts.
"""

from churnops.serving.app import create_app

app = create_app()
