"""The checksum `db import` compares between the SQLite file and the database."""

from __future__ import annotations

from churnops.database.home_import import checksum

TYPES = ["float8", "text", "int4"]
ROWS = [(1.5, "a", 1), (2.0, None, 0), (3.25, "", None)]


def test_it_ignores_order_and_how_a_driver_typed_a_number() -> None:
    assert checksum(ROWS, TYPES) == checksum(list(reversed(ROWS)), TYPES)
    assert checksum([(2, None, 0.0)], TYPES) == checksum([(2.0, None, 0)], TYPES)
    halves = checksum(ROWS[:1], TYPES) + checksum(ROWS[1:], TYPES)
    assert checksum(ROWS, TYPES) == halves % 2**64
    assert checksum([], TYPES) == 0


def test_it_tells_a_changed_missing_or_repeated_row() -> None:
    whole = checksum(ROWS, TYPES)
    assert checksum([(1.5, "b", 1), *ROWS[1:]], TYPES) != whole
    assert checksum([*ROWS[:2], (3.25, None, None)], TYPES) != whole  # '' is not NULL
    assert checksum(ROWS[:2], TYPES) != whole
    assert checksum([*ROWS, ROWS[0]], TYPES) != whole
