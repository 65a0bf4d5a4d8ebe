"""Scoring on Apache Spark: the same batches, rules and model as ``churnops score``, on a cluster.

In a notebook or a Databricks / EMR / Dataproc job::

    from churnops.spark import score
    scores = score(spark.read.parquet("s3://lake/customers/"), version=3, home="/dbfs/churnops")
    scores.where("reason IS NULL").write.parquet("s3://lake/scores/")

``score`` verifies the version on the driver (as the API does), broadcasts its ONNX graph's
bytes once, and scores each partition in ``mapInArrow`` with ``churnops.scoring.batch``: each
Python worker builds its ONNX Runtime session once (one thread: Spark's tasks use the cores)
and reuses it for every partition it is given. Executors need ``churnops[spark]`` and no
scikit-learn model file. The ONNX graph gives the registered model's probabilities within
1e-6 (the training checks hold it to that), so both engines agree.

Rows that break the schema's rules come back too, with ``reason`` set and no probability.

``churnops score --engine spark`` runs this on a local Spark (``local[*]``, or the master
``spark-submit`` gives) and writes the scores as a folder of Parquet part files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from churnops.atomic import atomic_write
from churnops.errors import BadInputError, ChurnopsError
from churnops.model.onnx_model import OnnxModel
from churnops.registry.store import Registry
from churnops.scoring.batch import DECILE, DECISION, ScoringSpec, score_frame
from churnops.scoring.run import (
    ScoreOptions,
    ScoreSummary,
    Version,
    check_output,
    decile_order,
    load_version,
    rejects_path,
)
from churnops.scoring.source import (
    as_text_batch,
    as_text_frame,
    find_columns,
    number_columns,
    part_files,
)
from churnops.settings import env_name, load_settings
from churnops.spreadsheet import neutralise_formulas

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

REASON = "reason"
REJECT_CHUNK = 50_000  # rejected rows fetched to the driver at a time


def output_schema(spec: ScoringSpec) -> pa.Schema:
    """The scores' columns and ``reason`` (set on rows that were not scored)."""
    return spec.output_schema().append(pa.field(REASON, pa.string()))


# Each Python worker's ONNX Runtime sessions, by the graph's SHA-256: workers are reused
# across tasks, so a session is built once per worker and version, not once per partition.
_sessions: dict[str, OnnxModel] = {}


def _session(sha256: str, onnx_bytes: Callable[[], bytes], spec: ScoringSpec) -> OnnxModel:
    if sha256 not in _sessions:
        _sessions[sha256] = OnnxModel(onnx_bytes(), spec.schema)
    return _sessions[sha256]


def _scorer(
    spec: ScoringSpec, sha256: str, onnx_bytes: Callable[[], bytes], names: list[str]
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    schema = output_schema(spec)
    numeric = number_columns(spec.schema)

    def score_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        model = _session(sha256, onnx_bytes, spec)
        for batch in batches:
            if not batch.num_rows:
                continue
            raw = as_text_frame(as_text_batch(batch, names, numeric))
            done = score_frame(raw, spec, model.predict_matrix)
            scored = done.scored.append_column(REASON, pa.nulls(done.scored.num_rows, pa.string()))
            rejected = pa.table(
                {
                    spec.schema.id_column: pa.array(
                        done.rejected[spec.schema.id_column], pa.string()
                    ),
                    REASON: pa.array(done.rejected["reason"], pa.string()),
                }
            )
            both = pa.concat_tables([scored, rejected], promote_options="default")
            yield from both.cast(schema).to_batches()

    return score_partition


def score(
    df: DataFrame,
    version: int | None = None,
    home: str | Path | None = None,
    with_features: bool = False,
) -> DataFrame:
    """Score a Spark DataFrame of customers with model ``version`` (default: the current one)
    of the churnops project at ``home`` (default: ``CHURNOPS_HOME`` or the current folder;
    without a database URL, a folder that does not exist is refused).

    Columns are found as ``prepare`` finds them (the schema's names, any case); the result has
    the id, ``probability``, ``decision``, ``risk_decile``, ``model_version``, ``scored_at``
    (with ``with_features``, the features as scored) and ``reason``: set, with no probability,
    on the rows the schema's rules reject.
    """
    settings = load_settings(home=None if home is None else Path(home))
    settings.check_project_folder(env_name("home") if home is None else "the home argument")
    registry = Registry(settings)
    loaded = load_version(registry, version)
    return _scored(df, loaded, loaded.spec(with_features))


def _scored(df: DataFrame, loaded: Version, spec: ScoringSpec) -> DataFrame:
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    name = loaded.entry.name
    wanted = find_columns("the DataFrame", to_arrow_schema(df.schema), spec.schema, name)
    shipped = df.sparkSession.sparkContext.broadcast(loaded.onnx_bytes)
    scorer = _scorer(spec, loaded.entry.onnx_sha256, lambda: shipped.value, list(wanted))
    selected = df.select(*[df[column] for column in wanted.values()])
    spark_schema = from_arrow_schema(output_schema(spec), prefer_timestamp_ntz=False)
    return selected.mapInArrow(scorer, spark_schema)


def local_session(master: str | None = "local[*]") -> SparkSession:
    """A Spark session on this machine (loopback, no UI) — or, with ``master=None``, the one
    ``spark-submit`` configured. Local Python workers run this interpreter (it has churnops)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("churnops-score")
    if master is not None:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = (
            builder.master(master)
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.ui.enabled", "false")
        )
    spark = (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def read_input(spark: SparkSession, path: str, kind: str) -> DataFrame:
    """A CSV (every cell as text, as ``prepare`` reads it) or Parquet file or folder."""
    from pyspark.errors import AnalysisException

    try:
        if kind == "csv":
            return spark.read.option("header", True).option("inferSchema", False).csv(path)
        return spark.read.parquet(path)
    except AnalysisException as exc:  # no such path, no schema to read: Spark's first line
        reason = str(exc).splitlines()[0]
        raise BadInputError(f"cannot read {path} ({reason}); check --input") from None


def _replace(tmp: Path, output: Path) -> None:
    """Put the folder ``tmp`` in place of ``output`` (checked replaceable before scoring)."""
    if output.is_dir():
        shutil.rmtree(output)
    elif output.exists():
        output.unlink()
    os.replace(tmp, output)


def _write_scores(scores: DataFrame, output: Path) -> None:
    """Part files into a temporary folder beside ``output``, renamed into place at the end."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        scores.write.mode("overwrite").parquet(str(tmp))
        _replace(tmp, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_rejects(rejects: DataFrame, path: Path) -> None:
    """The rejected ids and reasons as one CSV, formulas made inert, streamed in chunks."""
    header = True

    def write(tmp: Path) -> None:
        nonlocal header
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            rows: list[dict[str, object]] = []
            for row in [*rejects.toLocalIterator(), None]:
                if row is not None:
                    rows.append(row.asDict())
                if rows and (row is None or len(rows) == REJECT_CHUNK):
                    chunk = neutralise_formulas(pd.DataFrame(rows, columns=rejects.columns))
                    chunk.to_csv(handle, header=header, index=False)
                    header, rows = False, []
            if header:
                handle.write(",".join(rejects.columns) + "\n")

    atomic_write(path, write)


@dataclass
class SparkTally:
    deciles: dict[str, int] = field(default_factory=dict)  # of the scored rows
    reasons: dict[str, int] = field(default_factory=dict)  # of the rejected rows
    rejected: int = 0
    decisions: int = 0


def _tally(result: DataFrame) -> SparkTally:
    tally = SparkTally()
    for row in result.groupBy(REASON, DECILE, DECISION).count().collect():
        count = int(row["count"])
        if row[REASON] is None:
            key = "none" if row[DECILE] is None else str(row[DECILE])
            tally.deciles[key] = tally.deciles.get(key, 0) + count
            tally.decisions += count if row[DECISION] else 0
            continue
        tally.rejected += count
        for reason in str(row[REASON]).split("; "):
            tally.reasons[reason] = tally.reasons.get(reason, 0) + count
    return tally


def score_files(
    registry: Registry, options: ScoreOptions, master: str | None = "local[*]"
) -> ScoreSummary:
    """``churnops score --engine spark``: ``options.input`` scored on a Spark session into
    ``options.output`` (a folder of Parquet part files) and its rejects (one CSV beside it),
    each renamed into place at the end."""
    from pyspark import StorageLevel

    started = time.perf_counter()
    if options.format == "csv":
        raise BadInputError("--engine spark writes Parquet part files; drop --format csv")
    check_output(options.output, options.overwrite, folder=True)
    _, kind = part_files(options.input)
    loaded = load_version(registry, options.version)
    spec = loaded.spec(options.with_features)
    spark = local_session(master)
    frame = read_input(spark, str(options.input), kind)
    result = _scored(frame, loaded, spec).persist(StorageLevel.DISK_ONLY)  # scored once
    try:
        tally = _tally(result)
        _write_scores(result.where(result[REASON].isNull()).drop(REASON), options.output)
        rejects = result.where(result[REASON].isNotNull()).select(spec.schema.id_column, REASON)
        _write_rejects(rejects, rejects_path(options.output))
    finally:
        result.unpersist()
    scored, rejected = sum(tally.deciles.values()), tally.rejected
    seconds = time.perf_counter() - started
    return ScoreSummary(
        engine=f"spark {spark.sparkContext.master}",
        input=str(options.input),
        output=str(options.output),
        rejects=str(rejects_path(options.output)),
        format="parquet",
        version=loaded.entry.name,
        threshold=loaded.entry.threshold,
        rows_read=scored + rejected,
        rows_scored=scored,
        rows_rejected=rejected,
        churn_decisions=tally.decisions,
        rejections_by_reason=dict(sorted(tally.reasons.items(), key=lambda kv: -kv[1])),
        risk_deciles=dict(sorted(tally.deciles.items(), key=decile_order)),
        seconds=round(seconds, 3),
        rows_per_second=round((scored + rejected) / seconds, 1) if seconds else 0.0,
        workers=spark.sparkContext.defaultParallelism,
        scored_at=spec.scored_at,
    )


def main(argv: list[str] | None = None) -> None:
    """The job ``spark-submit`` runs on a cluster (see the README): score INPUT into OUTPUT
    (Parquet part files) and OUTPUT_rejected (CSV part files), on the submitted master."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--home", required=True, help="The churnops project (its registry)")
    parser.add_argument("--input", required=True, help="Parquet or CSV path or URI")
    parser.add_argument("--input-format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--output", required=True, help="Scores folder path or URI")
    parser.add_argument("--version", type=int, default=None, help="N of vN (default: current)")
    args = parser.parse_args(argv)
    try:  # a user's error is one line, as from the command line (the folder before Spark starts)
        load_settings(home=Path(args.home)).check_project_folder("--home")
        spark = local_session(master=None)
        frame = read_input(spark, args.input, args.input_format)
        result = score(frame, args.version, args.home).cache()
    except ChurnopsError as exc:
        parser.exit(exc.exit_code, f"error: {exc}\n")
    result.where(result[REASON].isNull()).drop(REASON).write.parquet(args.output)
    rejects = result.where(result[REASON].isNotNull())
    rejects.write.option("header", True).csv(args.output.rstrip("/") + "_rejected")


if __name__ == "__main__":
    main()
