"""``churnops score``: the whole customer base through a registered model version, on one machine.

The input is read in batches (``source``); worker processes — one per core — each read a batch
by ``prepare``'s rules and score it (``batch``), while this process writes the results in
input order. Processes, not threads: the rules are pandas code that holds the GIL, so only
processes put both cores to work on the whole batch, not just on the trees; each worker scores
with one thread, so nothing is oversubscribed. Memory is bounded by the batches in flight
(workers + 1), whatever the input's size.

The workers are forked from a server that has imported and warmed up their code once
(``workers``, ``preload``), started before this process imports its own modules.

The model is the version's ONNX graph, verified as the API verifies it, on one ONNX Runtime
thread per worker. On the default forest scikit-learn's ``predict_proba`` is about as fast per
row (``benchmarks/bench_score.py``), but a worker that imports scikit-learn starts seconds
later (a 1M-row run took 53 s with it, 42 s with ONNX Runtime, in the same conditions). The
graph is also what the API and the Spark engine score with, so every path gives the same
probabilities, and nothing is unpickled.

Output and rejects are written under temporary names and renamed at the end: an interrupted or
failed run leaves nothing under their final names.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from pydantic import BaseModel

from churnops.atomic import atomic_write, sha256_bytes
from churnops.errors import BadInputError, CheckFailedError
from churnops.model.onnx_model import OnnxModel
from churnops.registry.entries import ModelVersion
from churnops.registry.promotion import verify
from churnops.registry.store import Registry
from churnops.schema import FeatureSchema
from churnops.scoring.batch import (
    DECILE,
    DECISION,
    ScoredBatch,
    ScoringSpec,
    decile_edges,
    score_frame,
)
from churnops.scoring.source import (
    REJECTS_SUFFIX,
    Source,
    as_text_frame,
    from_ipc,
    open_source,
    to_ipc,
)
from churnops.scoring.workers import start_workers_early, worker_context, worker_count
from churnops.spreadsheet import neutralise_formulas

OutputFormat = Literal["parquet", "csv"]
BATCH_ROWS = 100_000
FORMAT_BY_SUFFIX: dict[str, OutputFormat] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class ScoreOptions:
    input: Path
    output: Path
    version: int | None = None  # None: the current version
    format: OutputFormat | None = None  # None: from the output's suffix, else Parquet
    overwrite: bool = False
    with_features: bool = False
    workers: int = 0  # 0: one per core
    batch_rows: int = BATCH_ROWS


class ScoreSummary(BaseModel):
    """What a scoring run did (``--json``)."""

    engine: str
    input: str
    output: str
    rejects: str
    format: str
    version: str
    threshold: float
    rows_read: int
    rows_scored: int
    rows_rejected: int
    churn_decisions: int
    rejections_by_reason: dict[str, int]
    risk_deciles: dict[str, int]
    seconds: float
    rows_per_second: float
    workers: int
    scored_at: datetime


def rejects_path(output: Path) -> Path:
    """Where the rows that could not be scored go: beside the output, as CSV for people."""
    return output.with_name(output.name.removesuffix(output.suffix) + REJECTS_SUFFIX)


def output_format(options: ScoreOptions) -> OutputFormat:
    return options.format or FORMAT_BY_SUFFIX.get(options.output.suffix.lower(), "parquet")


def check_output(output: Path, overwrite: bool, folder: bool = False) -> None:
    """Refuse an output that exists (without ``overwrite``) or cannot be written, before any
    work is done. ``folder``: the output is a folder of part files (Spark)."""
    for path in (output, rejects_path(output)):
        if path.is_dir() and not folder:
            raise BadInputError(f"{path} is a folder; give a file name for the output")
        if path.exists() and not overwrite:
            raise BadInputError(f"{path} exists; pass --overwrite to replace it")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BadInputError(f"cannot write {output} ({exc.strerror}); pick another path") from exc


@dataclass(frozen=True)
class Version:
    """A verified version, ready to score with."""

    entry: ModelVersion
    schema: FeatureSchema
    onnx_bytes: bytes  # the graph the API serves; both engines score with it
    decile_edges: tuple[float, ...] | None

    def spec(self, with_features: bool) -> ScoringSpec:
        return ScoringSpec(
            version=self.entry.version,
            threshold=self.entry.threshold,
            schema=self.schema,
            decile_edges=self.decile_edges,
            scored_at=datetime.now(UTC),
            with_features=with_features,
        )


def _checked_bytes(path: Path, sha256: str, name: str) -> bytes:
    data = path.read_bytes()
    if sha256_bytes(data) != sha256:
        raise CheckFailedError(f"{name} refused: {path} changed while being read")
    return data


def load_version(registry: Registry, version: int | None) -> Version:
    state = registry.read()
    if version is None:
        if state.current is None:
            raise BadInputError("there is no current model version; run `churnops train` first")
        entry = state.current
    else:
        entry = registry.require(state, version)
    verify(registry, entry)
    onnx_bytes = _checked_bytes(registry.onnx_path(entry), entry.onnx_sha256, entry.name)
    holdout = registry.version_dir(entry.version) / "holdout.parquet"
    edges = None
    if holdout.exists():
        predictions = pd.read_parquet(holdout, columns=["prediction"])["prediction"]
        edges = decile_edges(predictions.to_numpy(dtype=np.float64))
    schema = FeatureSchema.model_validate(entry.feature_schema)
    return Version(entry, schema, onnx_bytes, edges)


# The model a worker process scores with, set once by ``_start_worker``.
_worker: dict[str, Any] = {}


def _start_worker(spec: ScoringSpec, onnx_bytes: bytes) -> None:
    _worker["spec"] = spec
    _worker["predict"] = OnnxModel(onnx_bytes, spec.schema).predict_matrix  # one thread


def _score_batch(batch: bytes) -> ScoredBatch:
    """Score one batch sent as IPC bytes (``to_ipc``)."""
    return score_frame(as_text_frame(from_ipc(batch)), _worker["spec"], _worker["predict"])


def scored_batches(
    source: Source, spec: ScoringSpec, onnx_bytes: bytes, workers: int, batch_rows: int
) -> Iterator[ScoredBatch]:
    """Each batch of ``source`` scored, in input order, ``workers`` batches at a time."""
    if workers == 1:
        _start_worker(spec, onnx_bytes)
        predict = _worker["predict"]
        for batch in source.batches(batch_rows):
            yield score_frame(as_text_frame(batch), spec, predict)
        return
    with ProcessPoolExecutor(
        workers,
        mp_context=worker_context(),
        initializer=_start_worker,
        initargs=(spec, onnx_bytes),
    ) as pool:
        pending: deque[Future[ScoredBatch]] = deque()
        for batch in source.batches(batch_rows):
            pending.append(pool.submit(_score_batch, to_ipc(batch)))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@dataclass
class Tally:
    rows_read: int = 0
    rows_scored: int = 0
    decisions: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    deciles: dict[str, int] = field(default_factory=dict)

    def add(self, scored: ScoredBatch) -> None:
        self.rows_read += scored.rows_read
        self.rows_scored += scored.scored.num_rows
        self.decisions += int(np.sum(scored.scored[DECISION].to_numpy()))
        for text in scored.rejected["reason"]:
            for reason in str(text).split("; "):
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
        for item in scored.scored[DECILE].value_counts().to_pylist():
            key = "none" if item["values"] is None else str(item["values"])
            self.deciles[key] = self.deciles.get(key, 0) + item["counts"]


class Writer:
    """Scored batches into the output file (Parquet or CSV) and their rejects into a CSV."""

    def __init__(self, output: Path, rejects: Path, schema: pa.Schema, fmt: OutputFormat) -> None:
        self.writer: pq.ParquetWriter | pa_csv.CSVWriter = (
            pq.ParquetWriter(output, schema)
            if fmt == "parquet"
            else pa_csv.CSVWriter(output, schema)
        )
        self.rejects = open(rejects, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self.rejects_started = False

    def write(self, scored: ScoredBatch) -> None:
        if scored.scored.num_rows:
            self.writer.write_table(scored.scored)
        if len(scored.rejected) or not self.rejects_started:
            neutralise_formulas(scored.rejected).to_csv(
                self.rejects, header=not self.rejects_started, index=False
            )
            self.rejects_started = True

    def close(self) -> None:
        self.writer.close()
        self.rejects.close()


def _write(
    options: ScoreOptions,
    spec: ScoringSpec,
    batches: Iterator[ScoredBatch],
    on_batch: Callable[[int], None],
) -> Tally:
    """Write every batch under temporary names; rename both files into place at the end."""
    tally = Tally()

    def write_output(output_tmp: Path) -> None:
        def write_rejects(rejects_tmp: Path) -> None:
            writer = Writer(output_tmp, rejects_tmp, spec.output_schema(), output_format(options))
            try:
                for scored in batches:
                    writer.write(scored)
                    tally.add(scored)
                    on_batch(scored.rows_read)
            finally:
                writer.close()

        atomic_write(rejects_path(options.output), write_rejects)

    atomic_write(options.output, write_output)
    return tally


def decile_order(item: tuple[str, int]) -> int:
    return int(item[0]) if item[0].isdigit() else 99  # "none": no hold-out to set deciles by


def score(
    registry: Registry, options: ScoreOptions, on_batch: Callable[[int], None] = lambda n: None
) -> ScoreSummary:
    """Score ``options.input`` into ``options.output`` (and its rejects beside it)."""
    started = time.perf_counter()
    check_output(options.output, options.overwrite)
    workers = worker_count(options.workers)
    start_workers_early(workers)
    version = load_version(registry, options.version)
    source = open_source(options.input, version.schema, version.entry.name)
    spec = version.spec(options.with_features)
    batches = scored_batches(source, spec, version.onnx_bytes, workers, options.batch_rows)
    tally = _write(options, spec, batches, on_batch)
    seconds = time.perf_counter() - started
    return ScoreSummary(
        engine="local",
        input=str(options.input),
        output=str(options.output),
        rejects=str(rejects_path(options.output)),
        format=output_format(options),
        version=version.entry.name,
        threshold=version.entry.threshold,
        rows_read=tally.rows_read,
        rows_scored=tally.rows_scored,
        rows_rejected=tally.rows_read - tally.rows_scored,
        churn_decisions=tally.decisions,
        rejections_by_reason=dict(sorted(tally.reasons.items(), key=lambda kv: -kv[1])),
        risk_deciles=dict(sorted(tally.deciles.items(), key=decile_order)),
        seconds=round(seconds, 3),
        rows_per_second=round(tally.rows_read / seconds, 1) if seconds else 0.0,
        workers=workers,
        scored_at=spec.scored_at,
    )
