"""Window and chunk options: durations, date-times, row counts and chunk boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from churnops.errors import BadInputError
from churnops.monitoring.window import (
    ChunkSpec,
    chunk_bounds,
    duration_seconds,
    parse_chunk,
    parse_window,
)

NOW = 1_750_000_000.0


def test_durations() -> None:
    """It reads 90s, 30m, 24h, 7d and 2w, and says None for anything else."""
    assert duration_seconds("90s", "--last") == 90
    assert duration_seconds("30m", "--last") == 1_800
    assert duration_seconds("24h", "--last") == 86_400
    assert duration_seconds("7d", "--last") == 604_800
    assert duration_seconds("2w", "--last") == 1_209_600
    assert duration_seconds("5000", "--last") is None
    with pytest.raises(BadInputError, match="--last '0h' must be a duration longer than zero"):
        duration_seconds("0h", "--last")


def test_last_is_a_duration_or_a_row_count() -> None:
    """It treats --last 24h as 'since 24 hours ago' and --last 5000 as the newest 5,000 rows."""
    assert parse_window(None, None, "24h", NOW).since == NOW - 86_400
    window = parse_window(None, None, "5000", NOW)
    assert window.last_rows == 5_000 and window.since is None


def test_since_and_until_accept_iso_times_and_durations_ago() -> None:
    """It reads ISO 8601 (UTC when no zone) and durations ago for --since / --until."""
    window = parse_window("2025-06-15T13:06:40", "1h", None, NOW)
    assert window.since == NOW - 7_200
    assert window.until == NOW - 3_600
    assert parse_window("2025-06-15T17:06:40+02:00", None, None, NOW).since == 1_750_000_000.0


@pytest.mark.parametrize(
    ("since", "until", "last", "message"),
    [
        ("yesterday", None, None, "neither a date-time"),
        (None, None, "lots", "neither a duration"),
        ("1h", None, "2h", "not both"),
        ("1h", "2h", None, "window is empty"),
        (None, None, "0", "--last 0 must be a count of at least 1 row"),
    ],
)
def test_bad_windows_are_refused_with_a_reason(
    since: str | None, until: str | None, last: str | None, message: str
) -> None:
    """It refuses unreadable or empty windows with a message saying what is wrong."""
    with pytest.raises(BadInputError, match=message):
        parse_window(since, until, last, NOW)


def test_chunk_specs() -> None:
    """It reads --chunk auto, durations and row counts, and refuses anything else."""
    assert parse_chunk("auto") == ChunkSpec("auto", 10)
    assert parse_chunk("1h") == ChunkSpec("time", 3_600)
    assert parse_chunk("500") == ChunkSpec("rows", 500)
    with pytest.raises(BadInputError):
        parse_chunk("hourly")
    with pytest.raises(BadInputError, match="--chunk 000 must be a count of at least 1 row"):
        parse_chunk("000")  # zero says so, not that it is no count at all


def test_chunk_bounds_cover_every_row_once() -> None:
    """It cuts row, auto and time chunks that cover each row exactly once, in order."""
    ts = np.array([0, 10, 3_599, 3_600, 3_700, 10_900, 10_901], dtype=float)
    assert chunk_bounds(ChunkSpec("time", 3_600), 7, ts, 1) == [(0, 3), (3, 5), (5, 7)]
    assert chunk_bounds(ChunkSpec("rows", 3), 7, None, 1) == [(0, 3), (3, 6), (6, 7)]
    auto = chunk_bounds(ChunkSpec("auto", 10), 1_000, None, 30)
    assert len(auto) == 10 and auto[0] == (0, 100) and auto[-1][1] == 1_000
    assert chunk_bounds(ChunkSpec("auto", 10), 95, None, 30) == [(0, 32), (32, 64), (64, 95)]
    with pytest.raises(BadInputError, match="timestamps"):
        chunk_bounds(ChunkSpec("time", 60), 7, None, 1)


def test_auto_chunks_are_equal_splits_so_the_last_one_is_judged() -> None:
    """It splits auto chunks as evenly as numpy.array_split (sizes differ by at most one), so
    no short remainder is left below the minimum and unjudged."""
    bounds = chunk_bounds(ChunkSpec("auto", 10), 156, None, 30)
    sizes = [stop - start for start, stop in bounds]
    assert sizes == [len(part) for part in np.array_split(np.arange(156), 5)]
    assert min(sizes) >= 30 and bounds[-1][1] == 156
    for rows in (30, 59, 61, 299, 301, 1_000_001):
        sizes = [b - a for a, b in chunk_bounds(ChunkSpec("auto", 10), rows, None, 30)]
        assert sum(sizes) == rows and min(sizes) >= 30 and max(sizes) - min(sizes) <= 1
