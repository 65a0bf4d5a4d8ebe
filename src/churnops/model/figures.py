"""The comparison figures of ``evaluate``, one PNG each, every version overlaid in one colour.

Each function draws the versions' scores on the same customers; the oracle (the generator's
true churn score, when the data came from ``generate``) is a dashed black line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from churnops.model.costs import THRESHOLD_GRID, Costs, cost_curve
from churnops.model.metrics import TOP_SHARES, gains

COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#4e342e")
ORACLE: dict[str, Any] = {"color": "black", "linestyle": "--", "linewidth": 1.2}
CHANCE: dict[str, Any] = {"color": "#9e9e9e", "linestyle": ":", "linewidth": 1.0}
CALIBRATION_BINS = 10
DPI = 110


@dataclass(frozen=True)
class Scores:
    """One version's churn probabilities for the compared customers."""

    name: str
    y: np.ndarray
    proba: np.ndarray
    threshold: float


@dataclass(frozen=True)
class Importance:
    """How much ROC AUC drops when one declared feature's values are shuffled among customers."""

    feature: str
    mean: float
    std: float


def colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _finish(
    fig: Figure,
    ax: Axes,
    legend: Literal["lower left", "lower right"],
    path: Path,
    legend_size: int = 10,
) -> Path:
    """Both axes from 0 to 1 (a hair more at the top, so a curve at 1 shows), the legend, a
    light grid; then the PNG."""
    ax.set(xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc=legend, fontsize=legend_size)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _operating_point(s: Scores) -> tuple[float, float, float]:
    """False positive rate, recall and precision of deciding churn at the version's threshold."""
    flagged = s.proba >= s.threshold
    churners = s.y == 1
    recall = float(np.mean(flagged[churners])) if churners.any() else 0.0
    fpr = float(np.mean(flagged[~churners])) if (~churners).any() else 0.0
    precision = float(np.mean(churners[flagged])) if flagged.any() else 1.0
    return fpr, recall, precision


def _point(index: int) -> dict[str, Any]:
    """A version's operating point: a dot in its colour, ringed in white, above the lines."""
    return {"marker": "o", "color": colour(index), "markersize": 8, "mec": "white", "zorder": 5}


CurveOf = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, str]]


def _roc_of(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    fpr, tpr, _ = roc_curve(y, score)
    return fpr, tpr, f"AUC {roc_auc_score(y, score):.3f}"


def _precision_recall_of(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    precision, recall, _ = precision_recall_curve(y, score)
    return recall, precision, f"AP {average_precision_score(y, score):.3f}"


def _overlay(
    ax: Axes,
    scores: Sequence[Scores],
    oracle: np.ndarray | None,
    curve_of: CurveOf,
    point_of: Callable[[Scores], tuple[float, float]],
) -> None:
    """Each version's curve with a dot at its threshold, then the oracle's, dashed."""
    for index, s in enumerate(scores):
        x, y, summary = curve_of(s.y, s.proba)
        ax.plot(x, y, color=colour(index), label=f"{s.name}  {summary}")
        ax.plot(*point_of(s), **_point(index))
    if oracle is not None:
        x, y, summary = curve_of(scores[0].y, oracle)
        ax.plot(x, y, **ORACLE, label=f"oracle  {summary}")


def roc(scores: Sequence[Scores], oracle: np.ndarray | None, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 5.4))
    _overlay(ax, scores, oracle, _roc_of, lambda s: _operating_point(s)[:2])
    ax.plot([0, 1], [0, 1], **CHANCE, label="chance  AUC 0.500")
    ax.set(
        xlabel="false positive rate (stayers flagged)",
        ylabel="true positive rate (churners caught)",
        title="ROC curve (dot: each version's decision threshold)",
    )
    return _finish(fig, ax, "lower right", path)


def precision_recall(scores: Sequence[Scores], oracle: np.ndarray | None, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 5.4))
    _overlay(ax, scores, oracle, _precision_recall_of, lambda s: _operating_point(s)[1:])
    y = scores[0].y
    rate = float(np.mean(y))
    ax.axhline(rate, **CHANCE, label=f"chance (churn rate {rate:.1%})")
    ax.set(
        xlabel="recall (share of churners caught)",
        ylabel="precision (share of flagged who churn)",
        title="Precision–recall (dot: each version's decision threshold)",
    )
    return _finish(fig, ax, "lower left", path)


def calibration(scores: Sequence[Scores], brier: Sequence[float], path: Path) -> Path:
    """The reliability diagram (customers in ten equal-size groups by predicted probability)
    above the distribution of predicted probabilities."""
    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(6, 6.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], **CHANCE, label="perfectly calibrated")
    bins = np.linspace(0, 1, 41)
    for index, (s, score) in enumerate(zip(scores, brier, strict=True)):
        observed, predicted = calibration_curve(
            s.y, s.proba, n_bins=CALIBRATION_BINS, strategy="quantile"
        )
        label = f"{s.name}  Brier {score:.4f}"
        ax.plot(predicted, observed, "o-", color=colour(index), label=label, markersize=4)
        hist.hist(s.proba, bins=bins, histtype="step", color=colour(index), linewidth=1.4)
    ax.set(
        ylabel="observed churn rate",
        title="Calibration: predicted vs observed churn (10 equal groups)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    hist.set(xlabel="predicted churn probability", ylabel="customers")
    hist.grid(alpha=0.3)
    return _save(fig, path)


def _confusion_panel(ax: Axes, s: Scores) -> None:
    predicted = s.proba >= s.threshold
    counts = np.array(
        [
            [np.sum(~predicted & (s.y == 0)), np.sum(predicted & (s.y == 0))],
            [np.sum(~predicted & (s.y == 1)), np.sum(predicted & (s.y == 1))],
        ]
    )
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    names = [["stayers kept out", "stayers flagged"], ["churners missed", "churners caught"]]
    for i in range(2):
        for j in range(2):
            text = f"{counts[i, j]:,}\n{rates[i, j]:.1%}\n{names[i][j]}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                color="white" if rates[i, j] > 0.5 else "black",
            )
    ax.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["predicted stay", "predicted churn"],
        yticklabels=["stayed", "churned"],
        title=f"{s.name} at threshold {s.threshold:.2f}",
    )


def confusion(scores: Sequence[Scores], path: Path) -> Path:
    """Counts and rates of each actual class (each row sums to 100 %), one panel per version,
    at most three to a row."""
    columns = 2 if len(scores) == 4 else min(len(scores), 3)
    rows = -(-len(scores) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.3 * columns, 4.2 * rows), squeeze=False)
    for ax in axes.flat[len(scores) :]:
        ax.set_axis_off()
    for ax, s in zip(axes.flat, scores, strict=False):
        _confusion_panel(ax, s)
    return _save(fig, path)


def gains_chart(scores: Sequence[Scores], oracle: np.ndarray | None, path: Path) -> Path:
    """Share of churners caught when contacting the top x % of customers by score."""
    fig, ax = plt.subplots(figsize=(6, 5.4))
    y = scores[0].y
    for index, s in enumerate(scores):
        contacted, caught = gains(s.y, s.proba)
        label = ", ".join(
            f"top {share:.0%}: {np.interp(share, contacted, caught):.0%}" for share in TOP_SHARES
        )
        ax.plot(contacted, caught, color=colour(index), label=f"{s.name}  ({label})")
    if oracle is not None:
        contacted, caught = gains(y, oracle)
        ax.plot(contacted, caught, **ORACLE, label="oracle")
    rate = float(np.mean(y))
    ax.plot([0, rate, 1], [0, 1, 1], color="#bdbdbd", linewidth=1, label="perfect ranking")
    ax.plot([0, 1], [0, 1], **CHANCE, label="random order")
    for share in TOP_SHARES:
        ax.axvline(share, color="#eeeeee", linewidth=1, zorder=0)
    ax.set(
        xlabel="share of customers contacted (highest scores first)",
        ylabel="share of all churners caught",
        title="Cumulative gains",
    )
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    return _finish(fig, ax, "lower right", path, legend_size=8)


def importance(
    names: Sequence[str], importances: Sequence[Sequence[Importance]], path: Path
) -> Path:
    """Grouped horizontal bars per declared feature, most important (for any version) on top."""
    features = sorted(
        {i.feature for found in importances for i in found},
        key=lambda f: max(i.mean for found in importances for i in found if i.feature == f),
    )
    height = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.45 * len(features) * max(len(names), 1) ** 0.5))
    for index, (name, found) in enumerate(zip(names, importances, strict=True)):
        by_feature = {i.feature: i for i in found}
        rows = [f for f in features if f in by_feature]
        positions = [features.index(f) + ((len(names) - 1) / 2 - index) * height for f in rows]
        ax.barh(
            positions,
            [by_feature[f].mean for f in rows],
            xerr=[by_feature[f].std for f in rows],
            height=height,
            color=colour(index),
            label=name,
        )
    ax.axvline(0, color="#616161", linewidth=0.8)
    ax.set_yticks(range(len(features)), features)
    ax.set(
        xlabel="drop in ROC AUC when the feature is shuffled (mean ± sd of 5 shuffles)",
        title="Permutation feature importance",
    )
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3, axis="x")
    return _save(fig, path)


def cost(scores: Sequence[Scores], costs: Costs, path: Path) -> Path:
    """Expected cost per customer against the threshold; a dot at each version's threshold,
    a ring where its curve is lowest on these customers."""
    fig, ax = plt.subplots(figsize=(7, 5))
    for index, s in enumerate(scores):
        curve = cost_curve(s.y, s.proba, THRESHOLD_GRID, costs)
        at = cost_curve(s.y, s.proba, np.array([s.threshold]), costs)[0]
        best = int(np.argmin(curve))
        label = f"{s.name}: {at:,.2f} at its threshold {s.threshold:.2f}"
        ax.plot(THRESHOLD_GRID, curve, color=colour(index), label=label)
        ax.plot(s.threshold, at, **_point(index))
        ax.plot(THRESHOLD_GRID[best], curve[best], "o", mfc="none", color=colour(index), ms=11)
    ax.set(
        xlabel="decision threshold (contact customers with churn probability ≥ threshold)",
        ylabel="expected cost per customer",
        title=f"Cost of mistakes ({costs.describe()})",
        xlim=(0, 1),
    )
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=9)
    ax.grid(alpha=0.3)
    return _save(fig, path)
