"""Compare registered versions on the same customers: metrics, figures (PNG) and one HTML page.

Which customers: see ``evaluation_data``. Every version is scored through its verified ONNX
graph — what the API serves. The figures: overlaid ROC and precision–recall curves (with the
oracle when the data came from ``generate``), calibration with the Brier score, confusion
matrices with counts and rates, cumulative gains, permutation importance per declared feature,
and — when costs are known — the expected cost against the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_auc_score

from churnops.data.generate import churn_logit_without_intercept
from churnops.errors import BadInputError
from churnops.model import figures
from churnops.model.costs import Costs, expected_cost
from churnops.model.evaluation_data import CommonData, Member, file_rows, holdout_rows
from churnops.model.evaluation_html import render_html
from churnops.model.figures import Importance, Scores
from churnops.model.metrics import classification_metrics, ranking_metrics
from churnops.model.onnx_model import OnnxModel
from churnops.registry.entries import ModelVersion, RegistryFile, parse_version
from churnops.registry.promotion import verify
from churnops.registry.store import Registry, open_registry
from churnops.settings import Settings

__all__ = ["Comparison", "VersionResult", "evaluate_versions", "parse_version"]

IMPORTANCE_ROWS = 2_000  # a seeded sample of the compared customers: shuffling is repeated
IMPORTANCE_REPEATS = 5


@dataclass
class VersionResult:
    name: str
    threshold: float
    calibration: str | None
    metrics: dict[str, Any]
    importance: list[Importance]  # empty when the customers hold one class (no ROC AUC)
    scores: Scores

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.name,
            "threshold": self.threshold,
            "calibration": self.calibration,
            "metrics": self.metrics,
            "permutation_importance": {
                i.feature: {"mean": i.mean, "std": i.std} for i in self.importance
            },
        }


@dataclass
class Comparison:
    source: str  # which customers, in words
    rows: int
    churn_rate: float
    rows_dropped: int
    versions: list[VersionResult]
    oracle_auc: float | None
    costs: Costs | None
    figures: dict[str, Path] = field(default_factory=dict)
    html: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "data": {
                "source": self.source,
                "rows": self.rows,
                "churn_rate": self.churn_rate,
                "rows_dropped_by_checks": self.rows_dropped,
                "oracle_roc_auc": self.oracle_auc,
            },
            "costs": self.costs.model_dump() if self.costs else None,
            "versions": [v.as_dict() for v in self.versions],
            "figures": {name: str(path) for name, path in self.figures.items()},
            "html": str(self.html) if self.html else None,
        }


def _members(registry: Registry, state: RegistryFile, versions: list[str]) -> list[Member]:
    if not state.versions:
        raise BadInputError("the registry is empty; run `churnops train` first")
    numbers = [parse_version(v) for v in versions] or (
        [state.current_version] if state.current_version else []
    )
    if not numbers:
        raise BadInputError(
            "no version is current; name the versions to evaluate, e.g. `churnops evaluate v1`"
        )
    entries = [registry.require(state, n) for n in dict.fromkeys(numbers)]
    return [Member(entry, verify(registry, entry)) for entry in entries]


def _recorded_costs(entries: list[ModelVersion]) -> Costs | None:
    """The costs the newest of ``entries`` was trained with, if any recorded them."""
    for entry in sorted(entries, key=lambda e: -e.version):
        if "costs" in entry.hyperparameters:
            return Costs.model_validate(entry.hyperparameters["costs"])
    return None


class _Fitted:
    """The served graph as scikit-learn's ``permutation_importance`` takes it: an object with a
    ``fit`` method (never called here: the graph is already fitted)."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model

    def fit(self, *_: object) -> _Fitted:
        return self


def _importance(model: OnnxModel, scores: Scores, common: CommonData, at: int) -> list[Importance]:
    """Permutation importance per declared feature (a whole column is shuffled, so a one-hot
    feature counts once): the mean and sd drop in ROC AUC over ``IMPORTANCE_REPEATS``."""
    if len(np.unique(scores.y)) < 2:
        return []
    frame = common.frames[at]
    rows = np.random.default_rng(0).permutation(len(frame))[:IMPORTANCE_ROWS]
    features = frame[model.schema.feature_names].iloc[rows]

    def auc(estimator: _Fitted, x: Any, y: np.ndarray) -> float:
        return float(roc_auc_score(y, estimator.model.predict_frame(x)))

    found = permutation_importance(
        _Fitted(model),
        features,
        scores.y[rows],
        scoring=auc,
        n_repeats=IMPORTANCE_REPEATS,
        random_state=0,
    )
    return [
        Importance(name, float(mean), float(std))
        for name, mean, std in zip(
            model.schema.feature_names, found.importances_mean, found.importances_std, strict=True
        )
    ]


def _score(member: Member, common: CommonData, at: int, costs: Costs | None) -> VersionResult:
    entry, model = member.entry, member.model
    frame = common.frames[at]
    y = frame[model.schema.label].to_numpy(dtype=int)
    scores = Scores(entry.name, y, model.predict_frame(frame), entry.threshold)
    metrics = classification_metrics(y, scores.proba, entry.threshold)
    metrics |= ranking_metrics(y, scores.proba)
    if costs is not None:
        metrics["expected_cost"] = expected_cost(y, scores.proba, entry.threshold, costs)
    calibration = entry.hyperparameters.get("calibration")
    return VersionResult(
        entry.name,
        entry.threshold,
        calibration,
        metrics,
        _importance(model, scores, common, at),
        scores,
    )


def _oracle(common: CommonData, generated: bool) -> np.ndarray | None:
    """The generator's true churn score (its logit: only the order matters for ROC, precision–
    recall and gains) of each compared customer, when the data came from ``generate``."""
    needed = {"tenure", "monthly_charges", "contract_type", "payment_method"}
    frame = common.frames[0]
    if not generated or not needed <= set(frame.columns):
        return None
    return churn_logit_without_intercept(frame)


def _draw(comparison: Comparison, oracle: np.ndarray | None, folder: Path) -> None:
    """The figures, in the page's order; those that need both classes only when there are."""
    scores = [v.scores for v in comparison.versions]
    both = len(np.unique(scores[0].y)) == 2
    drawn = comparison.figures
    if both:
        drawn["roc"] = figures.roc(scores, oracle, folder / "roc.png")
        drawn["precision_recall"] = figures.precision_recall(
            scores, oracle, folder / "precision_recall.png"
        )
    brier = [v.metrics["brier"] for v in comparison.versions]
    drawn["calibration"] = figures.calibration(scores, brier, folder / "calibration.png")
    if both:
        drawn["gains"] = figures.gains_chart(scores, oracle, folder / "gains.png")
    drawn["confusion"] = figures.confusion(scores, folder / "confusion.png")
    if both:
        names = [v.name for v in comparison.versions]
        importances = [v.importance for v in comparison.versions]
        drawn["importance"] = figures.importance(names, importances, folder / "importance.png")
    if comparison.costs is not None:
        drawn["cost"] = figures.cost(scores, comparison.costs, folder / "cost.png")


def evaluate_versions(
    settings: Settings,
    versions: list[str],
    data: Path | None,
    costs: Costs | None = None,
    generated: bool = False,
) -> Comparison:
    """Score ``versions`` (default: the current one) on the same customers and write the
    figures and the page to ``reports/evaluation_<time>_<versions>/``. ``costs`` (else the
    newest version's recorded ones) draw the cost curve; ``generated`` says ``data`` is the
    generator's output, so the oracle is drawn."""
    registry = open_registry(settings)
    members = _members(registry, registry.read(), versions)
    common = file_rows(data, members) if data else holdout_rows(registry, members)
    costs = costs or _recorded_costs([m.entry for m in members])
    results = [_score(member, common, at, costs) for at, member in enumerate(members)]
    trained_on_generated = all("oracle_roc_auc" in m.entry.metrics for m in members)
    oracle = _oracle(common, generated if data else trained_on_generated)
    y = results[0].scores.y
    comparison = Comparison(
        source=common.source,
        rows=len(y),
        churn_rate=float(np.mean(y)),
        rows_dropped=common.rows_dropped,
        versions=results,
        oracle_auc=float(roc_auc_score(y, oracle))
        if oracle is not None and len(np.unique(y)) == 2
        else None,
        costs=costs,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    folder = settings.reports_dir / f"evaluation_{stamp}_{'_'.join(m.entry.name for m in members)}"
    folder.mkdir(parents=True, exist_ok=True)
    _draw(comparison, oracle, folder)
    comparison.html = folder / "report.html"
    comparison.html.write_text(render_html(comparison), encoding="utf-8")
    return comparison
