"""Traffic without the API: log rows written as the API fills them — during an experiment
too (``logstore.EXPERIMENT_COLUMNS``) — scored by the real registered models, and the
customers' true outcomes from the generator, ready for ``labels import``.

(A plain module, imported by name: the tests folder is on ``sys.path``.)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from churnops import logstore
from churnops.experiments.assignment import Assigner
from churnops.monitoring.simulate import simulated_frame
from churnops.outcomes.simulated import simulated_outcomes
from churnops.registry.entries import Experiment
from churnops.registry.promotion import verify
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA
from churnops.settings import Settings

NAMES = [*logstore.prediction_columns(), *logstore.EXPERIMENT_COLUMNS]


def log_traffic(
    settings: Settings,
    rows: int,
    seed: int,
    outcomes: Path,
    start: float | None = None,
    ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Score ``rows`` generated customers as the API would — the current version, or in the
    running experiment (A/B: each customer's stable variant answers; shadow: the champion
    answers, the challenger's score is logged beside it) — append them to the inference log
    (one every millisecond from ``start``, default a minute ago), and write their true
    outcomes (observed now) to ``outcomes``. ``ids`` (one per row) replaces the simulated
    customers' ids, e.g. with customers scored before. Returns the log rows."""
    registry = Registry(settings)
    state = registry.read()
    experiment = state.experiment
    current = state.current
    assert current is not None, "train a version first"
    frame = simulated_frame(rows, seed, None)
    if ids is not None:
        frame[DEFAULT_SCHEMA.id_column] = list(ids)
    scores = {"champion": verify(registry, current).predict_frame(frame)}
    versions = {"champion": current.version}
    if experiment is not None:
        challenger = registry.require(state, experiment.challenger)
        scores["challenger"] = verify(registry, challenger).predict_frame(frame)
        versions["challenger"] = challenger.version
    begin = time.time() - 60 if start is None else start
    logged = [
        _row(experiment, begin + i * 1e-3, customer, frame.loc[i], scores, versions, i)
        for i, customer in enumerate(frame[DEFAULT_SCHEMA.id_column])
    ]
    conn = logstore.connect(settings.inference_db)
    try:
        logstore.insert(conn, logged, names=NAMES)
    finally:
        conn.close()
    simulated_outcomes(frame, rows, seed, time.time()).to_csv(outcomes, index=False)
    return pd.DataFrame(logged, columns=NAMES)


def _row(
    experiment: Experiment | None,
    ts: float,
    customer: str,
    features: pd.Series,
    scores: dict[str, np.ndarray],
    versions: dict[str, int],
    i: int,
) -> tuple[object, ...]:
    variant = "champion"
    marks: tuple[object, ...] = (None,) * len(logstore.EXPERIMENT_COLUMNS)
    if experiment is not None and experiment.mode == "ab":
        variant = Assigner(experiment.id, experiment.share).assign(customer).variant
        marks = (variant, 0, experiment.id, None, None)
    elif experiment is not None:
        shadow = float(scores["challenger"][i])
        marks = ("champion", 0, experiment.id, experiment.challenger, shadow)
    probability = float(scores[variant][i])
    # Python numbers, as the API logs them: sqlite3 would store a numpy integer as a BLOB
    values = [
        v.item() if isinstance(v, np.generic) else v for v in features[DEFAULT_SCHEMA.feature_names]
    ]
    return (
        ts,
        uuid.uuid4().hex,
        customer,
        versions[variant],
        *values,
        probability,
        probability >= 0.5,
        1.0,
        *marks,
    )
