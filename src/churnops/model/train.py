"""Train the churn pipeline: one-hot encoding + random forest, on a stratified hold-out split.

The defaults regularise the forest (depth 8, at least 20 customers per leaf, half the features
per split): an unconstrained forest memorises small tabular data and ranks worse on new customers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import (
    ParameterGrid,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from churnops.data.prepare import read_raw, schema_failures
from churnops.errors import BadInputError
from churnops.model.metrics import classification_metrics
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema
from churnops.settings import Settings

MIN_ROWS_PER_CLASS = 10  # enough for a stratified hold-out and 3-fold tuning to see both classes
TUNE_GRID: dict[str, list[Any]] = {
    "model__max_depth": [6, 8, 12],
    "model__min_samples_leaf": [5, 20, 50],
    "model__max_features": [0.3, 0.5],
}


@dataclass
class Trained:
    pipeline: Pipeline
    hyperparameters: dict[str, Any]
    metrics: dict[str, Any]
    train_frame: pd.DataFrame
    holdout_frame: pd.DataFrame
    holdout_proba: np.ndarray
    cv: dict[str, Any] | None = None


def build_pipeline(schema: FeatureSchema, params: dict[str, Any], seed: int) -> Pipeline:
    """Numeric features as they are, then each categorical one-hot in its declared category
    order: the layout of ``FeatureSchema.encode``, which the exported ONNX graph is fed."""
    encoder = OneHotEncoder(
        categories=[list(c.categories) for c in schema.categorical],
        handle_unknown="ignore",
        sparse_output=False,
    )
    steps: list[tuple[str, Any, list[str]]] = []
    if schema.numeric:
        steps.append(("numeric", "passthrough", schema.numeric_names))
    if schema.categorical:
        steps.append(("categorical", encoder, schema.categorical_names))
    preprocess = ColumnTransformer(steps)
    forest = RandomForestClassifier(random_state=seed, n_jobs=-1, **params)
    return Pipeline([("preprocess", preprocess), ("model", forest)])


def hyperparameters(settings: Settings) -> dict[str, Any]:
    return {
        "n_estimators": settings.n_estimators,
        "max_depth": settings.max_depth,
        "min_samples_leaf": settings.min_samples_leaf,
        "max_features": settings.max_features,
    }


def load_processed(path: Path, schema: FeatureSchema = DEFAULT_SCHEMA) -> pd.DataFrame:
    """The prepared table, checked against the declared schema before anything is fitted."""
    if not path.exists():
        raise BadInputError(f"{path} does not exist; run `churnops prepare` first")
    frame = read_raw(path, "run `churnops prepare` first")
    missing = [c for c in [*schema.feature_names, schema.label] if c not in frame.columns]
    if missing:
        raise BadInputError(
            f"{path} lacks column(s) {', '.join(missing)}; re-run `churnops prepare`"
        )
    for name in [*schema.numeric_names, schema.label]:
        values = pd.to_numeric(frame[name], errors="coerce")
        if values.isna().any():
            raise BadInputError(
                f"{path}: column {name} has non-numeric or empty values; re-run `churnops prepare`"
            )
        frame[name] = values
    broken = schema_failures(frame, schema, with_rules=False)
    if len(broken):
        raise BadInputError(
            f"{path}: {len(broken)} row(s) break the feature schema (row {broken.index[0] + 1}: "
            f"{broken.iloc[0]}); re-run `churnops prepare` on the raw data"
        )
    frame[schema.label] = frame[schema.label].astype(int)
    if frame[schema.label].nunique() < 2:
        raise BadInputError(f"{path}: the label has a single value; training needs both classes")
    return frame


def _grid_search(
    pipeline: Pipeline,
    features: pd.DataFrame,
    label: np.ndarray,
    seed: int,
    on_candidate: Callable[[int, int], None] | None,
) -> tuple[dict[str, Any], float]:
    """3-fold cross-validated ROC AUC of each candidate in ``TUNE_GRID``; the best and its score.

    A plain loop rather than GridSearchCV so the caller can show progress per candidate."""
    candidates = list(ParameterGrid(TUNE_GRID))
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    scores = []
    for done, candidate in enumerate(candidates, start=1):
        model = clone(pipeline).set_params(**candidate)
        scores.append(cross_val_score(model, features, label, scoring="roc_auc", cv=folds).mean())
        if on_candidate is not None:
            on_candidate(done, len(candidates))
    best = int(np.argmax(scores))
    return candidates[best], float(scores[best])


def train_model(
    frame: pd.DataFrame,
    settings: Settings,
    tune: bool,
    schema: FeatureSchema = DEFAULT_SCHEMA,
    on_candidate: Callable[[int, int], None] | None = None,
) -> Trained:
    smallest = int(frame[schema.label].value_counts().reindex([0, 1], fill_value=0).min())
    if smallest < MIN_ROWS_PER_CLASS:
        raise BadInputError(
            f"only {smallest} row(s) of one label class; training needs at least "
            f"{MIN_ROWS_PER_CLASS} churners and {MIN_ROWS_PER_CLASS} stayers"
        )
    train, holdout = train_test_split(
        frame,
        test_size=settings.test_size,
        stratify=frame[schema.label],
        random_state=settings.seed,
    )
    params = hyperparameters(settings)
    cv_result = None
    pipeline = build_pipeline(schema, params, settings.seed)
    features, label = train[schema.feature_names], train[schema.label].to_numpy()
    if tune:
        best, score = _grid_search(pipeline, features, label, settings.seed, on_candidate)
        pipeline.set_params(**best)
        params.update({k.removeprefix("model__"): v for k, v in best.items()})
        cv_result = {"best_cv_roc_auc": score, "grid": TUNE_GRID}
    pipeline.fit(features, label)
    proba = pipeline.predict_proba(holdout[schema.feature_names])[:, 1]
    metrics = classification_metrics(
        holdout[schema.label].to_numpy(), proba, settings.decision_threshold
    )
    return Trained(pipeline, params, metrics, train, holdout, proba, cv_result)
