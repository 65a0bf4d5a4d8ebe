"""The ASGI entry point: ``uvicorn churnops.api:app`` (``churnops serve`` runs it, and so does
the lab's ``uvicorn src.api:app``).

Settings come from the environment (``CHURNOPS_HOME``, default: the current folder); building
the app reads nothing else — the model is loaded by the app's lifespan when the server starts.
A wrong setting, or a ``CHURNOPS_HOME`` that does not exist in file mode, stops the server
before it starts with one line, exit 3: not uvicorn's traceback, nor a server answering "no
model yet" from a project folder made where the typo pointed. 3 is uvicorn's code for a start
that failed (with ``--workers``, uvicorn releases that know it stop instead of restarting the
worker); ``churnops serve`` checks the same before it starts uvicorn, and exits 2.

The churnops logger's lines from INFO up (model swaps, reload failures) go to stderr as
uvicorn's own do (``INFO:     now serving v2 (was v1)``). uvicorn has set up its logging by the
time it imports this module, and its configuration leaves our logger out: the handler is added
here, once per process, unless a logging configuration given to uvicorn already handles it.
"""

import logging
import sys

from uvicorn.logging import DefaultFormatter

from churnops.errors import BadInputError, CannotServeError
from churnops.serving.app import create_app
from churnops.settings import Settings, env_name, load_settings


def _show_churnops_logs() -> None:
    logger = logging.getLogger("churnops")
    if logger.hasHandlers():  # a configuration of its own (``--log-config``) decides
        return
    handler = logging.StreamHandler()  # stderr
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))  # uvicorn's format
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _settings() -> Settings:
    try:
        settings = load_settings()
        settings.check_project_folder(env_name("home"))
    except BadInputError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(CannotServeError.exit_code) from None
    return settings


_show_churnops_logs()
app = create_app(_settings())
