"""Trained project homes on the three user tables (telecom, bank, minimal), for the tests that
need a model of a user schema: drift, simulate, and the API end to end.

Each home is built as a user would build it — ``init --from`` drafts ``churnops.yaml``, the
table is prepared by it and v1 is trained — through the same functions the commands call.
(A plain module, imported by name: ``tests/`` is on ``sys.path``.)
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import schemas_support as tables

from churnops import logstore, workflow
from churnops.atomic import atomic_write_text
from churnops.data.infer import draft_project, render
from churnops.model.onnx_model import OnnxModel
from churnops.monitoring.simulate import population, simulated_frame
from churnops.project import PROJECT_FILE
from churnops.registry.store import Registry
from churnops.schema import FeatureSchema
from churnops.settings import Settings, load_settings

SHAPES = sorted(tables.BUILDERS)
TREES = 40  # enough for a real model, quick to train
# Rows of each table. The minimal one gets twice its default: from 1,500 rows the 300-row
# hold-out, whose predictions are drift's prediction reference, is too small to stand for the
# table (fresh customers of the same table were flagged for prediction drift in 5 of 6 seeds).
ROWS = {"telecom": 7_000, "bank": 6_000, "minimal": 3_000}


@dataclass(frozen=True)
class SchemaHome:
    """A project home whose registry holds v1 (current), trained on ``source``."""

    shape: str
    home: Path
    source: Path  # the CSV export v1 was prepared from
    schema: FeatureSchema

    @property
    def settings(self) -> Settings:
        return load_settings(home=self.home, n_estimators=TREES)


def build_project(shape: str, root: Path) -> SchemaHome:
    """``root/<shape>.csv`` (the table's export) and ``root/home``: init, prepare, train."""
    source = tables.write_csv(tables.BUILDERS[shape](ROWS[shape]), root / f"{shape}.csv")
    home = root / "home"
    home.mkdir(parents=True)
    atomic_write_text(home / PROJECT_FILE, render(draft_project(source, None, None)))
    settings = load_settings(home=home, n_estimators=TREES)
    workflow.prepare_step(settings, source)
    registered = workflow.train_step(settings).registered
    assert registered is not None and registered.promoted
    return SchemaHome(shape, home, source, workflow.project_schema(settings))


def copy_of(template: SchemaHome, target: Path) -> SchemaHome:
    """A private copy of ``template``'s home (the source CSV is shared: read only)."""
    shutil.copytree(template.home, target)
    return SchemaHome(template.shape, target, template.source, template.schema)


def version_schema(settings: Settings, version: int) -> FeatureSchema:
    registry = Registry(settings)
    entry = registry.require(registry.read(), version)
    return FeatureSchema.model_validate(entry.feature_schema)


def scored(settings: Settings, frame: pd.DataFrame, version: int) -> pd.DataFrame:
    """``frame`` with the ``probability`` version ``version``'s ONNX model gives each row, as
    a batch-scoring file holds it."""
    registry = Registry(settings)
    entry = registry.require(registry.read(), version)
    model = OnnxModel.load(registry.onnx_path(entry), version_schema(settings, version))
    return frame.assign(probability=model.predict_frame(frame))


def log_scored(
    settings: Settings, frame: pd.DataFrame, version: int, start_ts: float, step_s: float = 1.0
) -> np.ndarray:
    """Score ``frame`` (id and features) with version ``version``'s ONNX model and append it to
    the inference log under that version's schema, as the API serving it would: one row every
    ``step_s`` seconds from ``start_ts``. Returns the probabilities."""
    registry = Registry(settings)
    entry = registry.require(registry.read(), version)
    schema = version_schema(settings, version)
    probabilities = scored(settings, frame, version)["probability"].to_numpy()
    names = schema.feature_names
    rows = [
        (
            start_ts + i * step_s,
            uuid.uuid4().hex,
            str(customer),
            version,
            *features,
            float(p),
            int(p >= entry.threshold),
            1.0,
        )
        for i, (customer, *features, p) in enumerate(
            zip(
                frame[schema.id_column],
                *(frame[n].tolist() for n in names),
                probabilities,
                strict=True,
            )
        )
    ]
    conn = logstore.connect(settings.inference_db, schema)
    try:
        logstore.insert(conn, rows, schema, logstore.prediction_columns(schema))
    finally:
        conn.close()
    return np.asarray(probabilities)


Template = Callable[[str], SchemaHome]


# the feature each table's shifted copy moves (see ``shifted``)
MOVED = {"telecom": "contract", "bank": "age", "minimal": "plan"}


def shifted(frame: pd.DataFrame, shape: str, schema: FeatureSchema, seed: int) -> pd.DataFrame:
    """A copy of ``frame`` whose ``MOVED`` feature changed as a business change would move it,
    within the schema's declared values (the API would accept every row): customers six years
    older (bank), or half of them moved to the rarest category (the others)."""
    out = frame.copy()
    name = MOVED[shape]
    if name in schema.numeric_names:
        out[name] = (out[name] + 6).clip(upper=schema.numeric_feature(name).max)
        return out
    half = np.random.default_rng(seed).random(len(out)) < 0.5
    out.loc[half, name] = schema.categorical_feature(name).categories[-1]
    return out


def customers(project: SchemaHome, rows: int, seed: int) -> pd.DataFrame:
    """Customers as ``simulate`` draws them for this home's serving version."""
    drawn = population(Registry(project.settings), lambda: project.schema)
    return simulated_frame(rows, seed, None, drawn)
