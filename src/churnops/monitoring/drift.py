"""A drift run: current rows grouped by the model version that served them, each group compared
with its own version's reference, over the whole window and chunk by chunk.

After a rollback the log holds rows answered by two versions; each is judged against the
training statistics of the version that actually answered it, its rows read with that
version's feature schema (versions may declare different features). A group drifts when the
whole window drifts or when its latest chunks do (see ``rule``): a drift that began recently
is not hidden by a long calm history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from churnops import logstore
from churnops.database.url import DatabaseUrl
from churnops.errors import BadInputError
from churnops.monitoring.columns import Columns, normalise
from churnops.monitoring.compare import (
    PREDICTION,
    PreparedReference,
    absent_entry,
    compare,
    prepare_reference,
)
from churnops.monitoring.reference import CurrentFile, Reference, VersionReferences
from churnops.monitoring.results import (
    Bounds,
    Chunk,
    DriftReport,
    FeatureResult,
    GroupResult,
    JudgedChunk,
    Kind,
    ReferenceInfo,
    ReportThresholds,
    Source,
    SummaryFeature,
    UnjudgedChunk,
    judged,
    latest_run,
)
from churnops.monitoring.rule import SEVERITY, Thresholds, overall
from churnops.monitoring.window import ChunkSpec, Window, chunk_bounds, iso
from churnops.schema import CategoricalFeature, FeatureSchema, NumericFeature


@dataclass
class Group:
    """Current rows (in time order) to judge against one reference."""

    reference: Reference
    columns: Columns
    prediction: np.ndarray | None
    ts: np.ndarray | None
    model_version: int | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # features the current side lacks

    @property
    def rows(self) -> int:
        return self.columns.rows


def _chunk(
    prepared: PreparedReference, group: Group, start: int, stop: int, t: Thresholds
) -> Chunk:
    if group.ts is not None:
        bounds = Bounds(start=iso(float(group.ts[start])), end=iso(float(group.ts[stop - 1])))
    else:
        bounds = Bounds(first_row=start + 1, last_row=stop)
    if stop - start < t.min_rows:
        return UnjudgedChunk(rows=stop - start, bounds=bounds, note=f"fewer than {t.min_rows} rows")
    prediction = group.prediction[start:stop] if group.prediction is not None else None
    result = compare(prepared, group.columns.take(slice(start, stop)), prediction, t, False)
    return JudgedChunk(
        rows=stop - start,
        drift_detected=result.drift_detected,
        drift_score=result.drift_score,
        features=result.features,
        prediction=result.prediction,
        bounds=bounds,
    )


def latest_drift_run(timeline: list[Chunk]) -> tuple[str | None, str | None]:
    """(start of the latest run of consecutive drifting chunks, its end if later chunks are
    calm again); unjudged chunks (too few rows) are passed over."""
    chunks = judged(timeline)
    run = latest_run(chunks)
    if run is None:
        return None, None
    first, last = run
    ended = None if last == len(chunks) - 1 else chunks[last].bounds.ends
    return chunks[first].bounds.begins, ended


def recent_chunks(timeline: list[Chunk], count: int) -> list[JudgedChunk]:
    """The last ``count`` judged chunks if each of them drifts, else nothing."""
    chunks = judged(timeline)
    latest = chunks[-count:] if count > 0 and len(chunks) >= count else []
    return latest if latest and all(c.drift_detected for c in latest) else []


def _mark_recent(
    name: str, entry: FeatureResult | None, recent: list[JudgedChunk]
) -> FeatureResult | None:
    """A feature (or the prediction) drifting in each recent drifting chunk drifts."""
    if entry is None or not entry.compared:
        return entry
    verdicts = [c.verdict(name) for c in recent]
    drifting = bool(recent) and all(v is not None and v.status == "drift" for v in verdicts)
    if not drifting or entry.status == "drift":
        return entry.model_copy(update={"recent_drift": drifting})
    since = f"drifts in each of the last {len(recent)} chunks (since {recent[0].bounds.begins})"
    update = {
        "status": "drift",
        "drifted": True,
        "reasons": [since, *(entry.reasons or [])],
        "recent_drift": True,
    }
    return entry.model_copy(update=update)


def judge_group(group: Group, t: Thresholds, chunks: ChunkSpec, bins: int) -> GroupResult:
    """The whole-window comparison with full detail, then one compact comparison per chunk;
    the group drifts if the window does or if its latest chunks do."""
    schema = group.reference.schema
    prepared = prepare_reference(group.reference, bins)
    result = compare(prepared, group.columns, group.prediction, t, True)
    timeline = [
        _chunk(prepared, group, start, stop, t)
        for start, stop in chunk_bounds(chunks, group.rows, group.ts, t.min_rows)
    ]
    recent = recent_chunks(timeline, t.recent_chunks)
    skipped = {**prepared.skipped, **group.skipped}
    features: dict[str, FeatureResult] = {}
    for name in schema.feature_names:
        kind: Kind = "numeric" if name in schema.numeric_names else "categorical"
        entry = _mark_recent(name, result.features.get(name), recent)
        if entry is None and name in skipped:
            entry = absent_entry(kind, skipped[name])
        if entry is not None:
            features[name] = entry
    prediction = _mark_recent(PREDICTION, result.prediction, recent)
    statuses = [e.status for e in features.values()]
    _, score = overall(statuses, prediction.status if prediction else None, t)
    began, ended = latest_drift_run(timeline)
    return GroupResult(
        model_version=group.model_version,
        reference=ReferenceInfo(
            label=prepared.label,
            version=prepared.version,
            sample_rows=prepared.sample_rows,
            training_rows=prepared.training_rows,
            prediction_rows=prepared.prediction.sorted_values.size if prepared.prediction else 0,
        ),
        skipped_features=skipped,
        rows=result.rows,
        drift_detected=result.drift_detected or bool(recent),
        drift_score=score,
        window_drift=result.drift_detected,
        recent_drift=bool(recent),
        features=features,
        prediction=prediction,
        first_ts=iso(float(group.ts[0])) if group.ts is not None else None,
        last_ts=iso(float(group.ts[-1])) if group.ts is not None else None,
        drift_began=began,
        drift_ended=ended,
        chunks=timeline,
    )


def too_few_compared(group: GroupResult, declared: int) -> str | None:
    """Why a group cannot get a verdict on its inputs, or None. At least half of the declared
    features must be compared: 'no drift' from one feature of five would vouch for columns
    nobody looked at (a file whose columns were renamed), and the prediction alone says
    nothing about which inputs moved."""
    compared = sum(e.compared for e in group.features.values())
    if compared * 2 >= declared and compared > 0:
        return None
    why = "; ".join(f"{n}: {w}" for n, w in group.skipped_features.items()) or "no values"
    if compared == 0:
        return f"nothing could be compared with the reference ({why})"
    return f"only {compared} of {declared} features could be compared ({why})"


def _worst(entries: list[FeatureResult]) -> FeatureResult | None:
    return max(entries, key=lambda e: SEVERITY[e.status], default=None)


def _summary_features(groups: list[GroupResult]) -> dict[str, SummaryFeature]:
    """Per feature, the worst group's verdict (the first group's among equals)."""
    features: dict[str, SummaryFeature] = {}
    for group in groups:
        for name, entry in group.features.items():
            best = features.get(name)
            if best is None or SEVERITY[entry.status] > SEVERITY[best.status]:
                features[name] = SummaryFeature(**dict(entry), model_version=group.model_version)
    return features


def _judge_all(
    groups: list[Group], t: Thresholds, chunks: ChunkSpec, bins: int, notes: list[str]
) -> tuple[list[GroupResult], list[str]]:
    """The groups that get a verdict, and why each other group with enough rows got none
    (groups with too few rows are only noted)."""
    results, uncompared = [], []
    for group in groups:
        label = group.reference.label
        if group.rows < t.min_rows:
            notes.append(
                f"{label}: {group.rows} row(s) are too few for a verdict (at least "
                f"{t.min_rows}); not judged"
            )
            continue
        result = judge_group(group, t, chunks, bins)
        too_few = too_few_compared(result, len(group.reference.schema.feature_names))
        if too_few:
            uncompared.append(f"{label}: {too_few}")
            notes.append(f"{label}: {too_few}; not judged")
            continue
        results.append(result)
    return results, uncompared


def build_report(
    groups: list[Group],
    t: Thresholds,
    chunks: ChunkSpec,
    bins: int,
    source: Source,
    notes: list[str],
) -> DriftReport:
    """Judge each group, then the summary: any group drifting is drift; per feature, the worst
    group's verdict; the earliest start of drift among drifting groups (else among any dated
    group)."""
    results, uncompared = _judge_all(groups, t, chunks, bins, notes)
    if not results and uncompared:
        raise BadInputError(
            f"{'; '.join(uncompared)} — a verdict needs at least half of the schema's features; "
            "check that the reference and the current data hold them, under the schema's "
            "names, with values"
        )
    if not results:
        rows = sum(g.rows for g in groups)
        where = f"this window ({source.window})" if source.window else "the input"
        raise BadInputError(
            f"only {rows} row(s) to judge in {where}; a drift verdict "
            f"needs at least {t.min_rows} rows per model version — widen the window"
        )
    dated = [g for g in results if g.drift_began is not None]
    began = [g.drift_began for g in ([g for g in dated if g.drift_detected] or dated)]
    return DriftReport(
        generated_at=iso(time.time()),
        drift_detected=any(g.drift_detected for g in results),
        drift_score=max(g.drift_score for g in results),
        drift_began=min((b for b in began if b is not None), default=None),
        features=_summary_features(results),
        prediction=_worst([g.prediction for g in results if g.prediction is not None]),
        rule=t.describe(),
        thresholds=ReportThresholds(**dict(t), psi_bins=bins, chunks=chunks.describe()),
        source=source,
        groups=results,
        notes=notes,
    )


LOG_FIELDS = ("ts", "model_version", "probability")


def reading_schema(schemas: list[FeatureSchema]) -> FeatureSchema:
    """One schema naming every feature of ``schemas`` (a name's first declaration), to read
    all their log columns in one query: one snapshot of the log, however many versions."""
    numeric: dict[str, NumericFeature] = {}
    categorical: dict[str, CategoricalFeature] = {}
    for schema in schemas:
        for number in schema.numeric:
            if number.name not in categorical:
                numeric.setdefault(number.name, number)
        for category in schema.categorical:
            if category.name not in numeric:
                categorical.setdefault(category.name, category)
    return FeatureSchema(numeric=tuple(numeric.values()), categorical=tuple(categorical.values()))


def _layout(schema: FeatureSchema) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What reading logged rows depends on: which features are numbers, which categories."""
    return tuple(schema.numeric_names), tuple(schema.categorical_names)


@dataclass
class _Log:
    """One read of the log window: the rows' features, served version, probability, time."""

    path: Path | DatabaseUrl
    stored: set[str]
    frame: pd.DataFrame
    served: np.ndarray
    probability: np.ndarray
    ts: np.ndarray

    def groups(self, members: list[tuple[int, Reference]]) -> list[Group]:
        """One group per version of ``members`` (versions whose schemas read the log alike,
        with their references), their rows normalised once, each group in time order."""
        schema = members[0][1].schema
        numbers = [number for number, _ in members]
        mine = np.isin(self.served, numbers)
        rows = slice(None) if mine.all() else np.flatnonzero(mine)
        columns, _ = normalise(self.frame.iloc[rows], schema, clean_text=False)
        served, ts, probability = self.served[rows], self.ts[rows], self.probability[rows]
        absent = {
            name: f"not in the inference log {self.path} (written by an older schema?)"
            for name in schema.feature_names
            if name not in self.stored
        }
        groups = []
        for number, ref in members:
            taken = np.flatnonzero(served == number)
            if np.any(np.diff(ts[taken]) < 0):
                taken = taken[np.argsort(ts[taken], kind="stable")]
            rows_of = columns.take(taken)
            groups.append(
                Group(ref, rows_of, probability[taken], ts[taken], number, skipped=dict(absent))
            )
        return groups


def _read_log(path: Path | DatabaseUrl, window: Window, schemas: list[FeatureSchema]) -> _Log:
    logstore.require(path, ", or judge a file with --current FILE")
    stored = set(logstore.stored_columns(path))
    reading = reading_schema(schemas)
    fields = [*LOG_FIELDS, *(name for name in reading.feature_names if name in stored)]
    frame = logstore.read(path, window.since, window.until, window.last_rows, fields, reading)
    if frame.empty:
        raise BadInputError(
            f"no log rows in this window ({window.describe()}) in {path}; widen it with "
            "--since / --last, or check that the API is logging"
        )
    return _Log(
        path,
        stored,
        frame,
        frame["model_version"].to_numpy(dtype=np.int64),
        frame["probability"].to_numpy(dtype=np.float64),
        frame["ts"].to_numpy(dtype=np.float64),
    )


def log_groups(
    path: Path | DatabaseUrl,
    window: Window,
    version: int | None,
    references: VersionReferences,
    notes: list[str],
) -> list[Group]:
    """Read the window from the inference log and split it by serving model version; each
    version's rows are read with its own schema and judged against its own reference."""
    log = _read_log(path, window, references.schemas(version))
    served_by = [int(v) for v in np.unique(log.served)]
    alike: dict[tuple[tuple[str, ...], tuple[str, ...]], list[tuple[int, Reference]]] = {}
    for number in served_by:
        if version is not None and number != version:
            continue
        try:
            ref = references.get(number)
        except BadInputError as exc:
            rows = int(np.count_nonzero(log.served == number))
            notes.append(f"v{number}: {rows} row(s) not judged: {exc}")
            continue
        alike.setdefault(_layout(ref.schema), []).append((number, ref))
    groups = [group for members in alike.values() for group in log.groups(members)]
    groups.sort(key=lambda group: group.model_version or 0)
    if not groups:
        served_text = ", ".join(f"v{v}" for v in served_by)
        detail = "; ".join(notes) if notes else f"no rows were served by v{version}"
        raise BadInputError(f"nothing to judge in this window (served by {served_text}): {detail}")
    return groups


def file_group(current: CurrentFile, reference: Reference) -> Group:
    return Group(
        reference, current.columns, current.prediction, None, reference.version, current.skipped
    )
