"""Reading the user's window and chunk options: ``--since 2h``, ``--last 24h``, ``--chunk 1d``…"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from churnops.errors import BadInputError

UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
NUMBER = r"[0-9]+(?:\.[0-9]+)?"  # ASCII digits only: float() would also take "nan", "1e400", "١"
DURATION_RE = re.compile(rf"\s*({NUMBER})\s*([smhdw])\s*", re.IGNORECASE | re.ASCII)
EPOCH_RE = re.compile(rf"\s*[+-]?{NUMBER}(?:e[+-]?[0-9]+)?\s*", re.IGNORECASE | re.ASCII)
COUNT_RE = re.compile(r"\s*[0-9]+\s*", re.ASCII)
EARLIEST = -62_135_596_800.0  # 0001-01-01T00:00:00Z: the calendar's range in epoch seconds
LATEST = 253_402_300_799.0  # 9999-12-31T23:59:59Z
MAX_ROWS = 2**63 - 1  # SQLite's largest integer
AUTO_CHUNKS = 10


def duration_seconds(text: str, option: str) -> float | None:
    """``90s``, ``30m``, ``24h``, ``7d``, ``2w`` as seconds; None if ``text`` is not a duration."""
    match = DURATION_RE.fullmatch(text)
    if match is None:
        return None
    seconds = float(match.group(1)) * UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise BadInputError(f"{option} {text!r} must be a duration longer than zero")
    if seconds > LATEST - EARLIEST:
        raise BadInputError(f"{option} {text!r} is longer than the calendar (years 1-9999)")
    return seconds


def parse_time(text: str, now: float, option: str) -> float:
    """An ISO 8601 date-time (UTC when no zone is given), epoch seconds or a duration ago,
    as epoch seconds within the years 1-9999."""
    ago = duration_seconds(text, option)
    if ago is not None:
        return _in_calendar(now - ago, option, text)
    if EPOCH_RE.fullmatch(text):
        return _in_calendar(float(text), option, text)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadInputError(
            f"{option} {text!r} is neither a date-time (2025-01-31T12:00), epoch seconds, "
            "nor a duration ago (30m, 24h, 7d)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _in_calendar(moment.timestamp(), option, text)


def _in_calendar(epoch: float, option: str, text: str) -> float:
    if not (math.isfinite(epoch) and EARLIEST <= epoch <= LATEST):
        raise BadInputError(f"{option} {text!r} is outside the years 1-9999")
    return epoch


def row_count(text: str, option: str) -> int | None:
    """A positive whole number of rows (ASCII digits) as an int; None if ``text`` is not a
    whole number, an error if it is zero."""
    if COUNT_RE.fullmatch(text) is None:
        return None
    digits = text.strip().lstrip("0")
    if not digits:
        raise BadInputError(f"{option} {text.strip()} must be a count of at least 1 row")
    if len(digits) > len(str(MAX_ROWS)) or int(digits) > MAX_ROWS:
        raise BadInputError(f"{option} {text.strip()} is too large: at most {MAX_ROWS:,} rows")
    return int(digits)


@dataclass(frozen=True)
class Window:
    since: float | None = None
    until: float | None = None
    last_rows: int | None = None

    def describe(self) -> str:
        parts = []
        if self.since is not None:
            parts.append(f"since {iso(self.since)}")
        if self.until is not None:
            parts.append(f"until {iso(self.until)}")
        if self.last_rows is not None:
            parts.append(f"last {self.last_rows:,} rows")
        return ", ".join(parts) or "the whole log"


def parse_window(
    since: str | None, until: str | None, last: str | None, now: float, last_rows: bool = True
) -> Window:
    """``--last`` is a duration (``24h``: since now − 24 h) or, with ``last_rows``, a row
    count (``5000``)."""
    start = None if since is None else parse_time(since, now, "--since")
    end = None if until is None else parse_time(until, now, "--until")
    rows = None
    if last is not None:
        span = duration_seconds(last, "--last")
        if span is not None:
            if start is not None:
                raise BadInputError("give either --since or a --last duration, not both")
            start = _in_calendar(now - span, "--last", last)
        elif not last_rows:
            raise BadInputError(f"--last takes a duration here (30d, 12w); {last!r} is not one")
        else:
            rows = row_count(last, "--last")
            if rows is None:
                raise BadInputError(
                    f"--last {last!r} is neither a duration (24h) nor a row count (5000)"
                )
    if start is not None and end is not None and start >= end:
        raise BadInputError(f"the window is empty: {iso(start)} is not before {iso(end)}")
    return Window(start, end, rows)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ChunkSpec:
    kind: Literal["auto", "time", "rows"]
    size: float  # seconds for time chunks, rows for row chunks, chunk count for auto

    def describe(self) -> str:
        if self.kind == "time":
            return f"every {self.size:g} s"
        if self.kind == "rows":
            return f"every {int(self.size):,} rows"
        return f"up to {int(self.size)} equal chunks"


def parse_chunk(text: str, option: str = "--chunk") -> ChunkSpec:
    """``option``: what set ``text``, for messages (``--chunk``, or its variable)."""
    if text.strip().lower() == "auto":
        return ChunkSpec("auto", AUTO_CHUNKS)
    seconds = duration_seconds(text, option)
    if seconds is not None:
        return ChunkSpec("time", seconds)
    rows = row_count(text, option)
    if rows is not None:
        return ChunkSpec("rows", rows)
    raise BadInputError(f"{option} {text!r} is not auto, a duration (1h, 1d) or a row count (5000)")


def chunk_bounds(
    spec: ChunkSpec, rows: int, ts: np.ndarray | None, min_rows: int
) -> list[tuple[int, int]]:
    """[start, stop) row ranges of the chunks; rows are in time order.

    ``auto`` cuts up to ten chunks of at least ``min_rows`` rows, as equal as can be (sizes
    differ by at most one row, like ``numpy.array_split``, so the last chunk is never a short
    remainder left unjudged); time chunks start at multiples of the chunk length (UTC) and
    empty periods are left out.
    """
    if spec.kind == "time":
        if ts is None:
            raise BadInputError("time chunks need timestamps; use --chunk N (rows) for a file")
        buckets = np.floor(ts / spec.size)
        starts = np.flatnonzero(np.diff(buckets, prepend=np.nan) != 0)
        stops = np.append(starts[1:], rows)
        return list(zip(starts.tolist(), stops.tolist(), strict=True))
    if spec.kind == "rows":
        size = int(spec.size)
        return [(start, min(start + size, rows)) for start in range(0, rows, size)]
    count = max(1, min(int(spec.size), rows // max(min_rows, 1)))
    base, extra = divmod(rows, count)
    stops = np.cumsum([base + 1] * extra + [base] * (count - extra)).tolist()
    return list(zip([0, *stops[:-1]], stops, strict=True))
