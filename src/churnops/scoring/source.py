"""The customer base to score: a CSV or Parquet file, or a folder of part files, read in
batches of text cells (pyarrow datasets), so memory stays bounded whatever the file's size.

Columns are found as ``prepare`` finds them (the schema's CSV names, in any case); every cell
reaches the rules as text, whatever the file's types, so a Parquet number and a CSV cell are
read by the same rules (``churnops.data.cells``). Only the columns the model needs are read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.dataset as ds

from churnops.data.prepare import read_header, read_raw
from churnops.errors import BadInputError
from churnops.schema import FeatureSchema

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
CSV_BLOCK_BYTES = 1 << 24
REJECTS_SUFFIX = ".rejected.csv"  # the rows `score` refused, beside its output: never read
# Arrow's scanner reads ahead 16 batches from 4 files by default: with 1M-row part files that
# is four decoded files in memory at once (the main process reached 1 GB at 10M rows). The
# workers are the bottleneck, so one file and a couple of batches ahead keep them fed.
READAHEAD_FILES = 1
READAHEAD_BATCHES = 2


@dataclass(frozen=True)
class Source:
    """An opened input: its dataset, the file columns to read, and the names they go by."""

    path: Path
    kind: str  # "csv" or "parquet"
    dataset: ds.Dataset
    columns: list[str]  # as spelled in the file
    names: list[str]  # lower-cased, as ``prepare`` names them
    rows: int | None  # known up front for Parquet (from its metadata)
    numbers: frozenset[str]  # the numeric features' names: their columns may stay numbers

    def batches(self, size: int) -> Iterator[pa.RecordBatch]:
        """Record batches of at most ``size`` rows, every column as text. A file that turns
        out unreadable midway (a malformed CSV row) is bad input."""
        try:
            batches = self.dataset.to_batches(
                columns=self.columns,
                batch_size=size,
                batch_readahead=READAHEAD_BATCHES,
                fragment_readahead=READAHEAD_FILES,
            )
            for batch in batches:
                if batch.num_rows:
                    yield as_text_batch(batch, self.names, self.numbers)
        except (pa.ArrowInvalid, OSError) as exc:
            raise unreadable(self.path, self.kind, exc) from exc


def as_text_batch(
    batch: pa.RecordBatch, names: list[str], numbers: Collection[str] = ()
) -> pa.RecordBatch:
    """Every column as text, under ``names`` — but the columns named in ``numbers`` that hold
    integers or floats stay numbers: ``cells.numbers`` reads them as it reads their text, and
    skipping the round trip through text halves the cost of reading them."""
    columns = [
        column if name in numbers and _is_number(column.type) else pc.cast(column, pa.string())
        for name, column in zip(names, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, names=names)


def number_columns(feature_schema: FeatureSchema) -> frozenset[str]:
    """The (lower-cased) columns the numeric features are read from."""
    sources = feature_schema.sources()
    return frozenset(sources[name] for name in feature_schema.numeric_names)


def _is_number(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))


def to_ipc(batch: pa.RecordBatch) -> bytes:
    """A batch as Arrow IPC stream bytes, to send to a worker process. Unlike pickling, which
    carries a sliced batch's whole parent buffers (a 1M-row row group for each 100k batch),
    IPC writes only the batch's own rows."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue())


def from_ipc(data: bytes) -> pa.RecordBatch:
    return pa.ipc.open_stream(data).read_next_batch()


def unreadable(path: Path, kind: str, exc: Exception) -> BadInputError:
    first_line = str(exc).splitlines()[0]
    return BadInputError(f"{path} is not a readable {kind} input ({first_line})")


def as_text_frame(batch: pa.RecordBatch) -> pd.DataFrame:
    """A batch as the text frame ``prepare_frame`` reads, as ``read_raw`` makes it (Arrow-
    backed strings: the rules' string operations run 2.5x faster than on Python objects).
    Columns of numbers keep Arrow's types, in which a missing number (null) is not NaN."""
    frame: pd.DataFrame = batch.to_pandas(
        types_mapper=lambda kind: pd.ArrowDtype(kind) if _is_number(kind) else None
    )
    return frame


def part_files(path: Path) -> tuple[list[Path], str]:
    """The files to read and their format ("csv" or "parquet")."""
    if not path.exists():
        raise BadInputError(
            f"{path} does not exist; give a CSV or Parquet file or a folder of them"
        )
    if path.is_file():
        files = [path]
    else:  # Spark and Hive write part files next to markers such as _SUCCESS and .crc files,
        # and `score` writes the rows it refused beside its output (REJECTS_SUFFIX)
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and not p.name.startswith(("_", "."))
            and not p.name.endswith(REJECTS_SUFFIX)
        )
    formats = {FORMATS.get(p.suffix.lower()) for p in files}
    if not files or None in formats or len(formats) > 1:
        raise BadInputError(
            f"{path}: give a .csv or .parquet file, or a folder of part files in one of those "
            "formats"
        )
    return files, formats.pop() or "csv"


def _csv_format(first: Path) -> ds.CsvFileFormat:
    if first.stat().st_size == 0:
        raise BadInputError(f"{first} is empty; give a CSV with a header row and customer rows")
    header = read_header(first)
    return ds.CsvFileFormat(
        read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
        ),
    )


def _readable(field: pa.Field) -> bool:
    """Types whose values have a text form the rules can read."""
    kind = field.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_null(kind)
    )


def find_columns(
    path: object, schema: pa.Schema, feature_schema: FeatureSchema, version: str
) -> dict[str, str]:
    """Lower-cased name -> the file's column, for the id and every feature; refuses a file
    without them or with one of an unreadable type."""
    found: dict[str, str] = {}
    for name in schema.names:
        key = name.strip().lower()
        if key in found:
            raise BadInputError(f"{path} repeats column {key}; keep one of each")
        found[key] = name
    sources = feature_schema.sources()
    needed = [feature_schema.id_column, *feature_schema.feature_names]
    missing = [sources[name] for name in needed if sources[name] not in found]
    if missing:
        raise BadInputError(
            f"{path} lacks column(s) {', '.join(missing)} that {version} scores from; it needs "
            f"{', '.join(sources[name] for name in needed)}"
        )
    wanted = {sources[name]: found[sources[name]] for name in needed}
    wrong = [
        f"{column} ({schema.field(column).type})"
        for column in wanted.values()
        if not _readable(schema.field(column))
    ]
    if wrong:
        raise BadInputError(
            f"{path}: column(s) {', '.join(wrong)} hold neither numbers nor text; "
            "give numbers or text for the id and every feature"
        )
    return wanted


def open_source(path: Path, feature_schema: FeatureSchema, version: str) -> Source:
    """Open ``path`` for reading, after checking it has every column ``version`` needs."""
    files, kind = part_files(path)
    file_format: ds.FileFormat = _csv_format(files[0]) if kind == "csv" else ds.ParquetFileFormat()
    try:
        dataset = ds.dataset([str(f) for f in files], format=file_format)
    except (pa.ArrowInvalid, OSError) as exc:
        raise unreadable(path, kind, exc) from exc
    wanted = find_columns(path, dataset.schema, feature_schema, version)
    rows = dataset.count_rows() if kind == "parquet" else None
    return Source(
        path,
        kind,
        dataset,
        list(wanted.values()),
        list(wanted),
        rows,
        number_columns(feature_schema),
    )


def read_text_table(path: Path) -> pd.DataFrame:
    """A whole CSV or Parquet file or folder as ``read_raw`` reads a CSV: every column as text,
    lower-case names (for ``drift --current``, which reads the whole file)."""
    files, kind = part_files(path)
    if kind == "csv":
        return read_raw(path)
    table = ds.dataset([str(f) for f in files], format="parquet").to_table()
    if not table.num_rows:
        raise BadInputError(f"{path} has no rows")
    names = [name.strip().lower() for name in table.column_names]
    return as_text_frame(as_text_batch(table.combine_chunks().to_batches()[0], names))
