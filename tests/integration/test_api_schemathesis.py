"""Property-based tests from the app's own OpenAPI document: no input may produce a 5xx, and
every answer conforms to what the document declares."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_support import api_settings
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode

from churnops.serving.app import create_app

EXAMPLES = 100  # per operation and mode
# Invalid requests must be refused with one of these (schemathesis' list, plus 413: a batch
# generated past its row limit can also be past the body size limit, and is refused for that)
REFUSED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REFUSED}}}
)


@pytest.fixture(scope="module")
def api_schema(_trained_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The app on a trained project with its lifespan running (model loaded, log writer on)."""
    home = tmp_path_factory.mktemp("fuzz") / "home"
    shutil.copytree(_trained_template, home)
    app = create_app(api_settings(home))
    with TestClient(app):
        yield schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)


def test_every_operation_is_exercised(api_schema: Any) -> None:
    """The fuzzing below covers every documented operation (a new endpoint is included)."""
    operations = {op.ok().label for op in api_schema.get_all_operations()}
    assert {
        "POST /predict",
        "POST /predict/batch",
        "GET /metrics",
        "POST /admin/reload",
    } <= operations


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_schema(api_schema: Any, mode: GenerationMode) -> None:
    """Generated valid and invalid requests never get a 5xx, and answers match the schema."""
    exercised: set[str] = set()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate()
            exercised.add(case.operation.label)

        try:
            check()
        except Unsatisfiable:  # nothing to make invalid in an operation without inputs
            assert mode is GenerationMode.NEGATIVE
    expected = {op.label for op in operations}
    if mode is GenerationMode.NEGATIVE:
        expected = {"POST /predict", "POST /predict/batch"}
    assert expected <= exercised
