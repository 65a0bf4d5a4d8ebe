"""``churnops labels import FILE``: outcomes from a CSV or Parquet file into the outcome store.

Columns (names in any case): ``customer_id`` (or the project's id column) and/or
``request_id``; ``outcome`` (or the project's label column) in the spellings ``prepare``
accepts; ``observed_at``, when the outcome was known (ISO date-time, UTC unless a zone is
given, or epoch seconds). Every row is checked first: one bad row — or two rows that disagree
about the same customer, or about the same prediction (a request id and its customer's id,
observed at the same time) — and nothing is imported; the error names the first few.

With ``scores`` (``churnops score`` outputs), an outcome that labels a batch-scored customer
counts as matched, as one that labels a logged prediction does: the files are read for the
customers the outcomes name, and the join rule is the store's (``OutcomeStore.record``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from churnops.data.prepare import read_raw
from churnops.errors import BadInputError
from churnops.outcomes.records import Outcome, distinct, make_outcome
from churnops.outcomes.store import (
    SHOWN_REASONS,
    ConflictingOutcomesError,
    OutcomeStore,
    Recorded,
)
from churnops.schema import FeatureSchema

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class Imported:
    path: Path
    rows: int
    duplicates: int  # rows repeating an earlier row exactly (counted once)
    recorded: Recorded


@dataclass(frozen=True)
class Columns:
    """Which column of the file holds what (None: not in the file)."""

    customer_id: str | None
    request_id: str | None
    outcome: str
    observed_at: str


def _first_present(names: set[str], candidates: list[str | None]) -> str | None:
    return next((c.lower() for c in candidates if c is not None and c.lower() in names), None)


def find_columns(names: list[str], schema: FeatureSchema, path: Path) -> Columns:
    present = set(names)
    customer = _first_present(present, ["customer_id", schema.id_column, schema.id_source])
    request = _first_present(present, ["request_id"])
    outcome = _first_present(present, ["outcome", schema.label, schema.label_source])
    observed = _first_present(present, ["observed_at"])
    missing = []
    if customer is None and request is None:
        missing.append("customer_id or request_id")
    if outcome is None:
        missing.append("outcome")
    if observed is None:
        missing.append("observed_at (when the outcome was known)")
    if missing or outcome is None or observed is None:
        raise BadInputError(
            f"{path} lacks the column(s) {'; '.join(missing)}; an outcomes file has "
            "customer_id and/or request_id, outcome and observed_at"
        )
    return Columns(customer, request, outcome, observed)


def read_table(path: Path) -> pd.DataFrame:
    """The file's rows, column names lower-cased; CSV cells as text."""
    if path.suffix.lower() not in PARQUET_SUFFIXES:
        return read_raw(path, "give the outcomes file's path")
    if not path.exists():
        raise BadInputError(f"{path} does not exist; give the outcomes file's path")
    try:
        frame = pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise BadInputError(f"{path} is not a readable Parquet file ({exc})") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return frame


def parse_rows(
    frame: pd.DataFrame, columns: Columns, schema: FeatureSchema, now: float
) -> tuple[list[tuple[str, Outcome]], list[str], int]:
    """(row, outcome) pairs, the first reasons rows were bad, and how many were."""

    def cells(name: str | None) -> list[Any]:
        return [None] * len(frame) if name is None else frame[name].tolist()

    good: list[tuple[str, Outcome]] = []
    reasons: list[str] = []
    bad = 0
    rows = zip(
        cells(columns.request_id),
        cells(columns.customer_id),
        cells(columns.outcome),
        cells(columns.observed_at),
        strict=True,
    )
    for number, (request, customer, outcome, observed) in enumerate(rows, start=1):
        try:
            parsed = make_outcome(request, customer, outcome, observed, schema.label_values, now)
        except BadInputError as exc:
            bad += 1
            if len(reasons) < SHOWN_REASONS:
                reasons.append(f"row {number}: {exc}")
            continue
        good.append((f"row {number}", parsed))
    return good, reasons, bad


def import_outcomes(
    path: Path,
    store: OutcomeStore,
    schema: FeatureSchema,
    now: float | None = None,
    scores: Sequence[Path] = (),
) -> Imported:
    """Check every row, then record them all in one transaction (or raise, recording none);
    ``scores``: batch score files whose customers the outcomes may label."""
    frame = read_table(path)
    if frame.empty:
        raise BadInputError(f"{path} has no rows; nothing was imported")
    columns = find_columns(list(frame.columns), schema, path)
    parsed, reasons, bad = parse_rows(frame, columns, schema, time.time() if now is None else now)
    unique = distinct(parsed)
    reasons += unique.conflicts[: SHOWN_REASONS - len(reasons)]
    refused = bad + len(unique.conflicts)
    if refused:
        raise _refused(path, refused, len(frame), reasons)
    scored = None
    if scores:
        from churnops.scoring.scored import read_scores  # the rules' modules: only when used

        customers = {o.customer_id for o in unique.outcomes if o.customer_id and not o.request_id}
        scored = read_scores(scores, customers=customers)
    try:
        recorded = store.record(
            unique.outcomes, f"labels import {path.name}", require="some", scored=scored
        )
    except ConflictingOutcomesError as exc:
        reasons = unique.disagreements(exc.pairs[:SHOWN_REASONS])
        raise _refused(path, len(exc.pairs), len(frame), reasons) from None
    return Imported(path, len(frame), unique.duplicates, recorded)


def _refused(path: Path, refused: int, rows: int, reasons: list[str]) -> BadInputError:
    return BadInputError(
        f"{path}: {refused:,} bad row(s) of {rows:,}, nothing was imported; " + "; ".join(reasons)
    )
