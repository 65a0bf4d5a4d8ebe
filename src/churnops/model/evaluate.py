"""Evaluate registered versions on their hold-out or a labelled CSV; ROC and confusion PNGs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from churnops.data.prepare import prepare_frame, read_raw
from churnops.errors import BadInputError
from churnops.model.metrics import classification_metrics
from churnops.registry.entries import ModelVersion, parse_version
from churnops.registry.promotion import verify
from churnops.registry.store import Registry
from churnops.schema import FeatureSchema
from churnops.settings import Settings


@dataclass
class Evaluation:
    name: str
    metrics: dict[str, Any]
    roc_png: Path | None  # None when the data holds one class: no ROC curve exists
    confusion_png: Path
    rows_dropped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.name,
            "metrics": self.metrics,
            "roc_png": str(self.roc_png) if self.roc_png else None,
            "confusion_png": str(self.confusion_png),
            "rows_dropped_by_checks": self.rows_dropped,
        }


class _GivenData:
    """A labelled CSV to score, prepared once per schema (versions may declare different ones)."""

    def __init__(self, path: Path, raw: pd.DataFrame) -> None:
        self.path, self.raw = path, raw
        self._prepared: dict[str, tuple[pd.DataFrame, int]] = {}

    def labelled(self, schema: FeatureSchema) -> tuple[pd.DataFrame, int]:
        """The rows that pass the quality checks of ``schema``, and how many did not."""
        key = schema.model_dump_json()
        if key not in self._prepared:
            clean, rejected, _checks = prepare_frame(self.raw, schema)
            if clean.empty:
                raise BadInputError(
                    f"{self.path} has no row that passes the quality checks; "
                    f"run `churnops prepare --input {self.path}` to see why"
                )
            self._prepared[key] = clean, len(rejected)
        return self._prepared[key]


def _holdout(registry: Registry, entry: ModelVersion) -> pd.DataFrame:
    path = registry.version_dir(entry.version) / "holdout.parquet"
    if not path.exists():
        raise BadInputError(
            f"the hold-out of {entry.name} is missing ({path}); evaluate with --data FILE"
        )
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise BadInputError(
            f"the hold-out of {entry.name} is unreadable ({path}); evaluate with --data FILE"
        ) from exc


def _plot_roc(y: np.ndarray, proba: np.ndarray, title: str, path: Path) -> None:
    fpr, tpr, _ = roc_curve(y, proba)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_confusion(matrix: list[list[int]], title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(matrix, cmap="Blues")
    for i in range(2):
        for j in range(2):
            dark = matrix[i][j] > max(max(row) for row in matrix) / 2
            colour = "white" if dark else "black"
            ax.text(j, i, str(matrix[i][j]), ha="center", va="center", color=colour)
    ax.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="actual", title=title)
    ax.set_xticklabels(["stay", "churn"])
    ax.set_yticklabels(["stay", "churn"])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def evaluate_versions(
    settings: Settings, versions: list[str], data: Path | None
) -> list[Evaluation]:
    registry = Registry(settings)
    state = registry.read()
    if not state.versions:
        raise BadInputError("the registry is empty; run `churnops train` first")
    numbers = [parse_version(v) for v in versions] or (
        [state.current_version] if state.current_version else []
    )
    if not numbers:
        raise BadInputError(
            "no version is current; name the versions to evaluate, e.g. `churnops evaluate v1`"
        )
    given = _GivenData(data, read_raw(data)) if data else None
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    results = []
    for number in numbers:
        entry = registry.require(state, number)
        model = verify(registry, entry)
        frame, dropped = given.labelled(model.schema) if given else (_holdout(registry, entry), 0)
        y = frame[model.schema.label].to_numpy(dtype=int)
        proba = model.predict_frame(frame)
        metrics = classification_metrics(y, proba, entry.threshold)
        roc_png = None
        confusion_png = settings.reports_dir / f"eval_{entry.name}_{stamp}_confusion.png"
        auc = metrics["roc_auc"]
        if auc is not None:
            roc_png = settings.reports_dir / f"eval_{entry.name}_{stamp}_roc.png"
            _plot_roc(y, proba, f"{entry.name} ROC (AUC {auc:.3f})", roc_png)
        _plot_confusion(
            metrics["confusion_matrix"],
            f"{entry.name} at threshold {entry.threshold:.2f}",
            confusion_png,
        )
        results.append(Evaluation(entry.name, metrics, roc_png, confusion_png, dropped))
    return results
