"""One comparison: a batch of current rows against a prepared reference, feature by feature.

The reference is prepared once (sorted values, PSI edges, category counts) and reused for the
whole window and every chunk of it. Each feature's verdict is a typed ``FeatureResult``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from churnops.monitoring.columns import Coded, Columns
from churnops.monitoring.reference import Reference
from churnops.monitoring.results import (
    CategoricalHistogram,
    FeatureResult,
    Kind,
    NumericHistogram,
    ReferenceScale,
)
from churnops.monitoring.rule import (
    NOT_COMPARED,
    Judgement,
    Thresholds,
    Verdict,
    feature_verdict,
    overall,
)
from churnops.monitoring.statistics import (
    CategoricalResult,
    CategoricalStats,
    MissingResult,
    NumericResult,
    NumericStats,
)
from churnops.monitoring.stats_tests import (
    NumericReference,
    bin_counts,
    compare_categorical,
    compare_missing,
    compare_numeric,
    holm,
    numeric_reference,
    ratio_scale,
)
from churnops.schema import NumericFeature

DISPLAY_BINS = 30
PREDICTION = "prediction"
TOP_UNSEEN = 20


@dataclass(frozen=True)
class CategoricalReference:
    categories: list[str]  # the schema's categories in its order, then any others seen
    counts: np.ndarray
    seen: frozenset[str]  # seen anywhere in training (full-training counts included)


@dataclass
class PreparedReference:
    label: str
    version: int | None
    numeric: dict[str, NumericReference]
    categorical: dict[str, CategoricalReference]
    missing: dict[str, tuple[int, int]]
    prediction: NumericReference | None
    skipped: dict[str, str]
    sample_rows: int
    training_rows: int | None

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]


NO_REFERENCE_VALUES = "the reference has no value for it (all missing, or of another type)"


def on_ratio_scale(feature: NumericFeature, present: np.ndarray) -> bool:
    """Whether a numeric feature is on a ratio scale (money, counts), which adds the relative
    change of its mean to its effects: as the schema declares it (``scale: ratio`` or
    ``interval``), else inferred from the reference values (``ratio_scale`` states the rule).
    A declared ratio scale still needs a positive reference mean to change relative to."""
    if feature.scale is None:
        return ratio_scale(present)
    return feature.scale == "ratio" and present.size > 1 and float(present.mean()) > 0


def prepare_reference(reference: Reference, bins: int) -> PreparedReference:
    """Sort, bin and count the reference once, by its schema. A feature without any present
    reference value cannot be tested and is set aside with the reason (it is reported as not
    compared)."""
    schema = reference.schema
    skipped = dict(reference.skipped)
    numeric = {}
    for feature in schema.numeric:
        values = reference.columns.numeric.get(feature.name)
        if values is not None:
            present = values[~np.isnan(values)]
            if present.size == 0:
                skipped[feature.name] = NO_REFERENCE_VALUES
                continue
            spread = feature.max - feature.min
            numeric[feature.name] = numeric_reference(
                present, bins, spread, on_ratio_scale(feature, present)
            )
    categorical = {}
    for cat in schema.categorical:
        coded = reference.columns.categorical.get(cat.name)
        if coded is not None:
            counts = coded.counts()
            if counts.sum() == 0:
                skipped[cat.name] = NO_REFERENCE_VALUES
                continue
            by_label = dict(zip(coded.labels, counts.tolist(), strict=True))
            names = [*cat.categories, *(c for c in coded.labels if c not in cat.categories)]
            categorical[cat.name] = CategoricalReference(
                categories=names,
                counts=np.array([by_label.get(name, 0) for name in names], dtype=np.int64),
                seen=frozenset(reference.seen.get(cat.name, coded.present())),
            )
    prediction = None
    if reference.prediction is not None and reference.prediction.size:
        prediction = numeric_reference(reference.prediction, bins, 1.0)
    return PreparedReference(
        label=reference.label,
        version=reference.version,
        numeric=numeric,
        categorical=categorical,
        missing=dict(reference.missing),
        prediction=prediction,
        skipped=skipped,
        sample_rows=reference.columns.rows,
        training_rows=reference.training_rows,
    )


def _numeric_histogram(ref: NumericReference, current: np.ndarray) -> NumericHistogram:
    ends = [ref.sorted_values[[0, -1]]] if ref.sorted_values.size else []
    if current.size:
        ends.append(np.quantile(current, [0.005, 0.995]))
    lo, hi = min(e[0] for e in ends), max(e[1] for e in ends)
    hi = hi if hi > lo else lo + 1.0
    edges = np.linspace(lo, hi, DISPLAY_BINS + 1)
    ref_counts = bin_counts(ref.sorted_values, edges[1:-1])
    cur_counts = bin_counts(current, edges[1:-1])
    return NumericHistogram(
        edges=[round(float(e), 6) for e in edges],
        reference=_shares(ref_counts),
        current=_shares(cur_counts),
    )


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [round(float(c) / total, 6) if total else 0.0 for c in counts]


@dataclass
class _Feature:
    """A feature's results before the rule: the rule needs all p-values of the comparison."""

    kind: Kind
    rows: int
    missing: MissingResult | None
    dist: NumericResult | CategoricalResult | None = None
    scale: ReferenceScale | None = None
    unseen_values: dict[str, int] | None = None
    histogram: NumericHistogram | CategoricalHistogram | None = None
    verdict: Verdict | None = None
    untested: str | None = None  # why the distribution could not be tested

    @property
    def dist_p(self) -> float | None:
        return self.dist.p_value if self.dist is not None else None


def _numeric(
    ref: NumericReference, values: np.ndarray, missing: tuple[int, int] | None, detail: bool
) -> _Feature:
    is_missing = np.isnan(values)
    present = np.sort(values[~is_missing])
    missing_result = (
        compare_missing(missing[0], missing[1], int(is_missing.sum()), values.size)
        if missing
        else None
    )
    feature = _Feature("numeric", values.size, missing_result, compare_numeric(ref, present))
    if feature.dist is None:
        feature.untested = "no present value in the current data"
    feature.scale = ReferenceScale(
        spread=ref.spread,
        spread_source=ref.spread_source,
        scale="ratio" if ref.ratio_scale else "interval",
    )
    if detail:
        feature.histogram = _numeric_histogram(ref, present)
    return feature


def _categorical(
    ref: CategoricalReference, values: Coded, missing: tuple[int, int] | None, detail: bool
) -> _Feature:
    categories = list(ref.categories)
    position = {name: i for i, name in enumerate(categories)}
    for label in values.labels:
        if label not in position:
            position[label] = len(categories)
            categories.append(label)
    current = np.zeros(len(categories), dtype=np.int64)
    current[[position[label] for label in values.labels]] += values.counts()
    reference = np.concatenate((ref.counts, np.zeros(len(categories) - len(ref.counts))))
    unseen = np.array([name not in ref.seen for name in categories], dtype=bool)
    n_missing = int((values.codes < 0).sum())
    rows = values.codes.size
    missing_result = compare_missing(missing[0], missing[1], n_missing, rows) if missing else None
    feature = _Feature(
        "categorical", rows, missing_result, compare_categorical(reference, current, unseen)
    )
    if feature.dist is None:
        feature.untested = "no present value in the current data"
    unseen_values = sorted(
        ((categories[i], int(current[i])) for i in np.nonzero(unseen & (current > 0))[0]),
        key=lambda item: -item[1],
    )
    feature.unseen_values = dict(unseen_values[:TOP_UNSEEN])
    if detail:
        feature.histogram = CategoricalHistogram(
            categories=categories, reference=_shares(reference), current=_shares(current)
        )
    return feature


def _statistics(feature: _Feature, adjusted: dict[str, float]) -> dict[str, Any]:
    """The statistics blocks of a detailed verdict, with the Holm-adjusted p-values; a
    feature's blocks are reported (as nulls) whether or not its test could run."""
    dist, missing, p_dist = feature.dist, feature.missing, adjusted.get("dist")
    blocks: dict[str, Any] = {}
    if feature.kind == "numeric":
        numeric = dist.stats if isinstance(dist, NumericResult) else NumericStats.untested()
        blocks["numeric"] = numeric.model_copy(update={"ks_p_value_adjusted": p_dist})
    else:
        cat = dist.stats if isinstance(dist, CategoricalResult) else CategoricalStats.untested()
        blocks["categorical"] = cat.model_copy(update={"chi2_p_value_adjusted": p_dist})
    if missing is not None:
        update = {"missing_p_value_adjusted": adjusted.get("missing")}
        blocks["missing"] = missing.stats.model_copy(update=update)
    return blocks


def _entry(feature: _Feature, adjusted: dict[str, float], detail: bool) -> FeatureResult:
    verdict = feature.verdict
    assert verdict is not None
    dist, missing = feature.dist, feature.missing
    status: Judgement = verdict.status
    reasons = verdict.reasons
    if feature.untested and status == "ok":
        # at most a missing-rate test ran, and it found nothing: the values were never
        # compared, which must not read as "ok"
        status, reasons = NOT_COMPARED, [feature.untested, *verdict.reasons]
    adjusted_values = [p for p in adjusted.values() if p is not None]
    head: dict[str, Any] = {
        "kind": feature.kind,
        "status": status,
        "drifted": status == "drift",
        "effect_ratio": round(verdict.effect_ratio, 6),
        "significant_effect_ratio": round(verdict.significant_ratio, 6),
        "psi": dist.psi if dist else None,
        "p_value_adjusted": min(adjusted_values) if adjusted_values else None,
        "current_rows": feature.rows,
        "current_count": dist.current_count if dist else None,
        "missing_rate_current": missing.current_rate if missing else None,
    }
    if not detail:
        return FeatureResult(**head)
    return FeatureResult(
        **head,
        reasons=reasons,
        **_statistics(feature, adjusted),
        reference_scale=feature.scale,
        unseen_values=feature.unseen_values,
        histogram=feature.histogram,
    )


def absent_entry(kind: Kind, why: str) -> FeatureResult:
    """A feature one side does not have: not compared, with the reason."""
    return FeatureResult(
        kind=kind,
        status=NOT_COMPARED,
        drifted=False,
        effect_ratio=0.0,
        significant_effect_ratio=0.0,
        psi=None,
        p_value_adjusted=None,
        current_rows=None,
        current_count=None,
        missing_rate_current=None,
        reasons=[why],
    )


@dataclass
class Comparison:
    rows: int
    features: dict[str, FeatureResult]
    prediction: FeatureResult | None
    drift_detected: bool
    drift_score: float


def compare(
    ref: PreparedReference,
    current: Columns,
    prediction: np.ndarray | None,
    t: Thresholds,
    detail: bool = True,
) -> Comparison:
    """Test every feature the reference and the current data share, then apply the rule."""
    results: dict[str, _Feature] = {}
    for name, numeric_ref in ref.numeric.items():
        if name in current.numeric:
            values = current.numeric[name]
            results[name] = _numeric(numeric_ref, values, ref.missing.get(name), detail)
    for name, categorical_ref in ref.categorical.items():
        if name in current.categorical:
            coded = current.categorical[name]
            results[name] = _categorical(categorical_ref, coded, ref.missing.get(name), detail)
    if ref.prediction is not None and prediction is not None and prediction.size:
        results[PREDICTION] = _numeric(ref.prediction, prediction, None, detail)
    keys = [(name, "dist", f.dist_p) for name, f in results.items()]
    keys += [(name, "missing", f.missing.p_value) for name, f in results.items() if f.missing]
    tested = [(name, test, p) for name, test, p in keys if p is not None]
    adjusted_values = holm(np.array([p for _, _, p in tested])) if tested else np.empty(0)
    adjusted: dict[str, dict[str, float]] = {name: {} for name in results}
    for (name, test, _), value in zip(tested, adjusted_values, strict=True):
        adjusted[name][test] = float(value)
    entries = {}
    for name, feature in results.items():
        feature.verdict = feature_verdict(
            feature.dist,
            adjusted[name].get("dist"),
            feature.missing,
            adjusted[name].get("missing"),
            t,
        )
        entries[name] = _entry(feature, adjusted[name], detail)
    prediction_entry = entries.pop(PREDICTION, None)
    statuses: list[str] = [e.status for e in entries.values()]
    prediction_status = prediction_entry.status if prediction_entry else None
    detected, score = overall(statuses, prediction_status, t)
    rows = max((f.rows for n, f in results.items() if n != PREDICTION), default=0)
    return Comparison(rows, entries, prediction_entry, detected, score)
