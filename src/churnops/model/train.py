"""Train the churn pipeline: one-hot encoding + random forest, on a stratified hold-out split.

The defaults regularise the forest (depth 8, at least 20 customers per leaf, half the features
per split): an unconstrained forest memorises small tabular data and ranks worse on new customers.

Two options, both off by default:

- **calibration** (``isotonic`` or ``sigmoid``): scikit-learn's ``CalibratedClassifierCV`` with
  5 stratified folds; each fold's forest gets a calibrator fitted on the fold it did not see,
  and the served probability is their mean (scikit-learn's default ``ensemble=True``, which
  gave the best Brier score on the default data; it serves five forests).
- **a threshold from costs**: the decision threshold that minimises the expected cost of
  mistakes, chosen by ``TunedThresholdClassifierCV`` on out-of-fold predictions of the
  *training* rows (5 folds), so the hold-out still measures the chosen threshold honestly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import (
    ParameterGrid,
    StratifiedKFold,
    TunedThresholdClassifierCV,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from churnops.data.prepare import read_raw, schema_failures
from churnops.errors import BadInputError
from churnops.model.costs import THRESHOLD_GRID, Costs, cost_scorer, expected_cost
from churnops.model.metrics import classification_metrics
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema
from churnops.settings import Settings

MIN_ROWS_PER_CLASS = 10  # enough for a stratified hold-out and 3-fold tuning to see both classes
TUNE_GRID: dict[str, list[Any]] = {
    "model__max_depth": [6, 8, 12],
    "model__min_samples_leaf": [5, 20, 50],
    "model__max_features": [0.3, 0.5],
}
Calibration = Literal["isotonic", "sigmoid"]
CALIBRATION_FOLDS = 5
THRESHOLD_FOLDS = 5


@dataclass(frozen=True)
class Options:
    """How to train beyond the settings' hyper-parameters; the defaults change nothing."""

    calibration: Calibration | None = None
    costs: Costs | None = None  # known costs: the hold-out's expected cost is reported
    threshold_by_cost: bool = False  # choose the threshold from ``costs``

    def record(self) -> dict[str, Any]:
        """What the registry keeps among the hyper-parameters (only what was asked for)."""
        record: dict[str, Any] = {}
        if self.calibration is not None:
            record |= {"calibration": self.calibration, "calibration_folds": CALIBRATION_FOLDS}
        if self.costs is not None:
            record["costs"] = self.costs.model_dump()
        if self.threshold_by_cost:
            record |= {"threshold_by": "cost", "threshold_folds": THRESHOLD_FOLDS}
        return record


@dataclass
class Trained:
    pipeline: Pipeline
    hyperparameters: dict[str, Any]
    metrics: dict[str, Any]
    train_frame: pd.DataFrame
    holdout_frame: pd.DataFrame
    holdout_proba: np.ndarray
    cv: dict[str, Any] | None = None
    threshold: float = 0.5


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


PREPARE_FIRST = "run `churnops prepare` first"


def load_processed(
    path: Path, schema: FeatureSchema = DEFAULT_SCHEMA, missing_hint: str = PREPARE_FIRST
) -> pd.DataFrame:
    """The prepared table, checked against the declared schema before anything is fitted;
    ``missing_hint`` is what to do when ``path`` does not exist."""
    frame = read_raw(path, missing_hint)
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


def _calibrated(pipeline: Pipeline, method: Calibration, seed: int) -> Pipeline:
    """The same pipeline whose forest is calibrated by cross-validation."""
    folds = StratifiedKFold(CALIBRATION_FOLDS, shuffle=True, random_state=seed)
    forest = pipeline.named_steps["model"]
    calibrated = CalibratedClassifierCV(forest, method=method, cv=folds, ensemble=True)
    return Pipeline([*pipeline.steps[:-1], ("model", calibrated)])


def _fit(
    pipeline: Pipeline, features: pd.DataFrame, label: np.ndarray, options: Options, seed: int
) -> tuple[Pipeline, float | None, float | None]:
    """The fitted pipeline; with a cost threshold also the threshold and its cross-validated
    cost per customer (None, None otherwise)."""
    if not (options.threshold_by_cost and options.costs is not None):
        return pipeline.fit(features, label), None, None
    tuned = TunedThresholdClassifierCV(
        pipeline,
        scoring=cost_scorer(options.costs),
        thresholds=THRESHOLD_GRID,
        cv=StratifiedKFold(THRESHOLD_FOLDS, shuffle=True, random_state=seed),
        refit=True,
    ).fit(features, label)
    return tuned.estimator_, float(tuned.best_threshold_), -float(tuned.best_score_)


def _option_metrics(
    trained: Trained,
    options: Options,
    schema: FeatureSchema,
    fixed: float,
    cv_cost: float | None,
    plain: Pipeline,
) -> dict[str, Any]:
    """The hold-out figures the options add: expected costs at the chosen and at the fixed
    threshold; with calibration, the Brier score of ``plain`` (the forest it calibrates, fitted on
    the same rows: what training without calibration would have registered)."""
    y = trained.holdout_frame[schema.label].to_numpy()
    holdout = trained.holdout_frame[schema.feature_names]
    extra: dict[str, Any] = {}
    if options.costs is not None:
        for key, threshold in (
            ("expected_cost", trained.threshold),
            ("expected_cost_at_fixed_threshold", fixed),
        ):
            extra[key] = expected_cost(y, trained.holdout_proba, threshold, options.costs)
    if cv_cost is not None:
        extra["cv_expected_cost"] = cv_cost
    if options.calibration is not None:
        fitted = clone(plain).fit(
            trained.train_frame[schema.feature_names], trained.train_frame[schema.label]
        )
        extra["brier_uncalibrated"] = float(
            brier_score_loss(y, fitted.predict_proba(holdout)[:, 1])
        )
    return extra


def train_model(
    frame: pd.DataFrame,
    settings: Settings,
    tune: bool,
    schema: FeatureSchema = DEFAULT_SCHEMA,
    on_candidate: Callable[[int, int], None] | None = None,
    options: Options = Options(),
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
    plain = pipeline
    if options.calibration is not None:
        pipeline = _calibrated(pipeline, options.calibration, settings.seed)
    pipeline, chosen, cv_cost = _fit(pipeline, features, label, options, settings.seed)
    threshold = settings.decision_threshold if chosen is None else chosen
    proba = pipeline.predict_proba(holdout[schema.feature_names])[:, 1]
    metrics = classification_metrics(holdout[schema.label].to_numpy(), proba, threshold)
    record = {**params, **options.record()}
    trained = Trained(pipeline, record, metrics, train, holdout, proba, cv_result, threshold)
    metrics.update(
        _option_metrics(trained, options, schema, settings.decision_threshold, cv_cost, plain)
    )
    return trained
