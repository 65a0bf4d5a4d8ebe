"""The customers ``evaluate`` scores every compared version on: the same rows for all of them.

Each version's own hold-out is a different sample, and a customer in one version's hold-out may
be in another's training rows — a version scored on rows it trained on looks better than it is.
So, by default, the rows are those of the versions' hold-outs that **none** of the compared
versions was trained on (the registry records each version's training customer ids). Versions
trained on the same data with the same seed share one hold-out, and it is used whole; versions
trained with other seeds or on other data are compared on the hold-out rows none of them saw.
A single version is scored on its own hold-out. ``--data FILE`` scores a labelled CSV instead
(fresh customers, e.g. last month's outcomes): the rows that pass every version's checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from churnops.data.prepare import prepare_frame, read_raw
from churnops.errors import BadInputError
from churnops.model.onnx_model import OnnxModel
from churnops.registry.entries import ModelVersion
from churnops.registry.lifecycle import TRAINED_ON
from churnops.registry.store import Registry


@dataclass(frozen=True)
class Member:
    """A compared version, verified and loaded."""

    entry: ModelVersion
    model: OnnxModel


@dataclass
class CommonData:
    """The same customers for every member, each frame as that member's schema reads them."""

    frames: list[pd.DataFrame]
    source: str  # what the rows are, in words
    rows_dropped: int = 0  # rows of the given file that some version's checks refused


def _read_parquet(path: Path, what: str) -> pd.DataFrame:
    if not path.exists():
        raise BadInputError(f"{what} is missing ({path}); evaluate with --data FILE")
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise BadInputError(f"{what} is unreadable ({path}); evaluate with --data FILE") from exc


def _names(members: list[Member]) -> str:
    return ", ".join(m.entry.name for m in members)


def _pool(registry: Registry, members: list[Member]) -> tuple[pd.DataFrame, set[object]]:
    """The members' hold-out rows (the newest version's copy of a customer wins) and the ids of
    every customer any of them was trained on."""
    id_column = members[0].model.schema.id_column
    pool: list[pd.DataFrame] = []
    trained: set[object] = set()
    for member in sorted(members, key=lambda m: -m.entry.version):
        name, folder = member.entry.name, registry.version_dir(member.entry.version)
        holdout = _read_parquet(folder / "holdout.parquet", f"the hold-out of {name}")
        if id_column not in holdout.columns or not (folder / TRAINED_ON).exists():
            raise BadInputError(
                f"{name} does not record which customers it was trained on (registered before "
                "churnops kept them, or trained on data without ids), so no rows can be picked "
                f"that none of {_names(members)} saw; compare them on a labelled file: "
                f"`churnops evaluate {' '.join(m.entry.name for m in members)} --data FILE`"
            )
        pool.append(holdout.drop(columns=["prediction"], errors="ignore"))
        trained.update(_read_parquet(folder / TRAINED_ON, f"{name}'s training ids")[id_column])
    return pd.concat(pool, ignore_index=True).drop_duplicates(id_column), trained


def holdout_rows(registry: Registry, members: list[Member]) -> CommonData:
    """The hold-out rows none of ``members`` was trained on (one member: its hold-out)."""
    if len(members) == 1:
        entry = members[0].entry
        path = registry.version_dir(entry.version) / "holdout.parquet"
        frame = _read_parquet(path, f"the hold-out of {entry.name}")
        source = f"the hold-out of {entry.name}: {len(frame):,} customers it was not trained on"
        return CommonData([frame], source)
    rows, trained = _pool(registry, members)
    rows = rows[~rows[members[0].model.schema.id_column].isin(trained)]
    schemas = [m.model.schema for m in members]
    needed = sorted({c for s in schemas for c in [*s.feature_names, s.label]})
    rows = rows.dropna(subset=[c for c in needed if c in rows.columns]).reset_index(drop=True)
    missing = [c for c in needed if c not in rows.columns]
    if rows.empty or missing:
        raise BadInputError(
            f"the hold-outs of {_names(members)} hold no customer that none of them was trained on"
            + (f" with every feature they use (missing: {', '.join(missing)})" if missing else "")
            + "; compare them on a labelled file with --data FILE"
        )
    source = f"{len(rows):,} hold-out customers none of {_names(members)} was trained on"
    return CommonData([rows] * len(members), source)


def file_rows(path: Path, members: list[Member]) -> CommonData:
    """The rows of a labelled CSV that pass every member's checks (prepared once per schema)."""
    raw = read_raw(path)
    prepared: dict[str, pd.DataFrame] = {}
    frames = []
    for member in members:
        schema = member.model.schema
        key = schema.model_dump_json()
        if key not in prepared:
            prepared[key] = prepare_frame(raw, schema)[0].set_index(schema.id_column, drop=False)
        frames.append(prepared[key])
    common = frames[0].index
    for frame in frames[1:]:
        common = common.intersection(frame.index, sort=False)
    if common.empty:
        raise BadInputError(
            f"{path} has no row that passes the quality checks of {_names(members)}; "
            f"run `churnops prepare --input {path}` to see why"
        )
    aligned = [frame.loc[common].reset_index(drop=True) for frame in frames]
    source = f"{len(common):,} customers of {path}"
    return CommonData(aligned, source, rows_dropped=len(raw) - len(common))
