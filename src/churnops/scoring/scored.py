"""``churnops score`` outputs read back as predictions, for the outcomes to label them.

A scored row is a prediction of its ``model_version`` for its customer, made at ``scored_at``:
the same facts a logged prediction holds, without a request id. Any output of ``score`` is
read — a file or a folder of part files (as the Spark engine writes), Parquet or CSV — by the
files ``source`` finds; only the columns a prediction needs are read.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.dataset as ds

from churnops.errors import BadInputError
from churnops.registry.entries import parse_version
from churnops.scoring.batch import PROBABILITY, SCORED_AT, VERSION
from churnops.scoring.source import part_files, unreadable

CUSTOMER = "customer_id"  # the name the inference log gives the id, whatever the schema's
UTC_MICROSECONDS = pa.timestamp("us", tz="UTC")


def _dataset(path: Path) -> tuple[ds.Dataset, str]:
    """A score output's files as one dataset, and its id column: the first, as `score` writes
    it — named by the schema of the version that scored it, whatever the project's is now."""
    files, kind = part_files(path)
    names = [str(f) for f in files]
    try:
        found = ds.dataset(names, format=kind)
        id_column = found.schema.names[0] if found.schema.names else ""
        if kind == "csv":  # as `score` writes them: text ids and versions, timestamps with a Z
            types = {
                id_column: pa.string(),
                VERSION: pa.string(),
                PROBABILITY: pa.float64(),
                SCORED_AT: UTC_MICROSECONDS,
            }
            options = pa_csv.ConvertOptions(column_types=types)
            found = ds.dataset(names, format=ds.CsvFileFormat(convert_options=options))
    except (pa.ArrowException, OSError) as exc:
        raise unreadable(path, kind, exc) from exc
    return found, id_column


def _check_columns(path: Path, schema: pa.Schema, id_column: str) -> None:
    if id_column in ("", VERSION, PROBABILITY, SCORED_AT):
        raise BadInputError(
            f"{path} is not a `churnops score` output: its first column should be the customer "
            f"id, not {id_column or 'missing'}"
        )
    needed = (id_column, VERSION, PROBABILITY, SCORED_AT)
    missing = [name for name in needed if name not in schema.names]
    if missing:
        raise BadInputError(
            f"{path} is not a `churnops score` output: it lacks {', '.join(missing)} (a scores "
            f"file has {', '.join(needed)})"
        )
    id_type = schema.field(id_column).type
    if pa.types.is_dictionary(id_type):
        id_type = id_type.value_type
    kinds = {
        id_column: pa.types.is_string(id_type) or pa.types.is_large_string(id_type),
        PROBABILITY: pa.types.is_floating(schema.field(PROBABILITY).type),
        SCORED_AT: pa.types.is_timestamp(schema.field(SCORED_AT).type),
    }
    wrong = [f"{name} ({schema.field(name).type})" for name, ok in kinds.items() if not ok]
    if wrong:
        raise BadInputError(
            f"{path} is not a `churnops score` output: column(s) {', '.join(wrong)} should hold "
            "text ids, a probability and a UTC timestamp"
        )


def _table(path: Path, customers: Collection[str] | None) -> tuple[pa.Table, str]:
    """The prediction columns of a score output (its customers' only, when given), and the
    name of its id column."""
    dataset, id_column = _dataset(path)
    _check_columns(path, dataset.schema, id_column)
    wanted = None
    if customers is not None:
        wanted = pc.field(id_column).isin(pa.array(list(customers), pa.string()))
    try:
        table = dataset.to_table(
            columns=[id_column, VERSION, PROBABILITY, SCORED_AT], filter=wanted
        )
    except (pa.ArrowException, OSError) as exc:
        raise unreadable(path, "scores", exc) from exc
    if any(table.column(name).null_count for name in table.column_names):
        raise BadInputError(
            f"{path} has empty cells in its id, {VERSION}, {PROBABILITY} or {SCORED_AT}; "
            "a `churnops score` output has none"
        )
    return table, id_column


def _versions(path: Path, texts: pd.Series) -> pd.Series:
    """``v3`` → 3, each distinct text parsed once."""
    numbers = {}
    for text in texts.unique():
        try:
            numbers[text] = parse_version(str(text))
        except BadInputError as exc:
            raise BadInputError(f"{path}: {VERSION} {exc}") from None
    return texts.map(numbers).astype(np.int64)


def _predictions(path: Path, table: pa.Table, id_column: str) -> pd.DataFrame:
    # Spark's INT96 timestamps read back in ns without a zone (UTC): to µs, nothing lost
    moments = pc.cast(table.column(SCORED_AT), UTC_MICROSECONDS, safe=False).cast(pa.int64())
    return pd.DataFrame(
        {
            CUSTOMER: table.column(id_column).to_pandas(),
            VERSION: _versions(path, table.column(VERSION).to_pandas()),
            PROBABILITY: table.column(PROBABILITY).to_numpy(),
            "ts": moments.to_numpy() / 1e6,
        }
    )


def read_scores(
    paths: Sequence[Path],
    since: float | None = None,
    until: float | None = None,
    customers: Collection[str] | None = None,
) -> pd.DataFrame:
    """The predictions in ``score`` outputs (at least one path; ``since <= ts < until``;
    only ``customers``' when given): ``customer_id``, ``model_version``, ``probability``,
    ``ts`` in epoch seconds. A prediction found twice (the same file given twice, a customer
    repeated in the input) counts once.
    ``BadInputError`` for a path that is not a readable ``score`` output."""
    frames = [_predictions(path, *_table(path, customers)) for path in paths]
    found = pd.concat(frames, ignore_index=True).drop_duplicates(ignore_index=True)
    inside = np.ones(len(found), dtype=bool)
    if since is not None:
        inside &= found["ts"].to_numpy() >= since
    if until is not None:
        inside &= found["ts"].to_numpy() < until
    return found[inside].reset_index(drop=True)
