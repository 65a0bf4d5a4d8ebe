"""Serving tests and benchmarks: versions trained on other feature schemas in one registry.

(A plain module, imported by name: ``tests/`` is on ``sys.path``.)"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pandas as pd
import schemas_support as tables
from schema_homes import scored

from churnops import workflow
from churnops.data.infer import draft_project, render
from churnops.project import load_schema
from churnops.registry.promotion import switch
from churnops.registry.store import Registry
from churnops.schema import SEED_EXAMPLE, FeatureSchema
from churnops.serving.inputs import ModelInputs
from churnops.settings import Settings, load_settings

# The sizes each table is trained at here: enough for a real model, quick to train.
ROWS = {"telecom": 3_000, "bank": 3_000, "minimal": 1_500}
inputs_for = functools.partial(ModelInputs, batch_limit=100, extra="ignore", batch_errors="refuse")


def register_other_schema(home: Path, table: str, trees: int = 40, rows: int | None = None) -> int:
    """Train a version on one of ``schemas_support``'s tables (its drafted project file kept
    beside the data as ``<table>.yaml``), leave the version that was current serving, and
    return the new version's number."""
    frame = tables.BUILDERS[table](rows or ROWS[table])
    source = tables.write_csv(frame, home / f"{table}.csv")
    project = home / f"{table}.yaml"
    project.write_text(render(draft_project(source, None, None)), encoding="utf-8")
    settings = load_settings(home=home, schema_file=project, n_estimators=trees)
    before = Registry(settings).read().current_version
    workflow.prepare_step(settings, input_path=source)
    workflow.train_step(settings, force=True)
    state = Registry(settings).read()
    version = max(v.version for v in state.versions)
    if before is not None and state.current_version != before:
        switch(settings, "rollback", before, f"test setup: v{before} serves, v{version} waits")
    return version


def table_schema(home: Path, table: str) -> FeatureSchema:
    return load_schema(home / f"{table}.yaml", home)


def body_for_both(schema: FeatureSchema) -> dict[str, Any]:
    """The seed example plus a mid-range value of every other feature of ``schema``: valid for
    the built-in schema and for ``schema`` (each ignores the fields it does not take)."""
    body: dict[str, Any] = dict(SEED_EXAMPLE)
    for feature in schema.numeric:
        if feature.name not in body:
            middle = (feature.min + feature.max) / 2
            body[feature.name] = round(middle) if feature.kind == "int" else round(middle, 2)
    for category in schema.categorical:
        body.setdefault(category.name, category.categories[-1])
    return body


def scored_by(settings: Settings, body: dict[str, Any]) -> dict[int, float]:
    """Each registered version's probability for ``body`` (canonical values), computed
    outside the API from its ONNX file and its schema."""
    frame = pd.DataFrame([body])
    return {
        entry.version: float(scored(settings, frame, entry.version)["probability"].iloc[0])
        for entry in Registry(settings).read().versions
    }
