"""The table `churnops simulate` prints after sending traffic."""

from collections import Counter

import pytest
from rich.console import Console

from churnops.cli.drift_cmds import _simulation_table
from churnops.monitoring.simulate import SimulationResult


def _rendered(
    result: SimulationResult, url: str = "http://127.0.0.1:8000", width: int = 100
) -> str:
    console = Console(width=width, record=True, force_terminal=False)
    console.print(_simulation_table(result, url, "price-increase"))
    return console.export_text()


def _cell(text: str, key: str) -> str:
    """The value beside ``key`` in the rendered two-column table."""
    line = next(line for line in text.splitlines() if f" {key} " in line)
    return line.split("│")[2].strip()


def test_counts_read_as_words_not_python_reprs() -> None:
    result = SimulationResult(
        rows=20_000,
        statuses=Counter({200: 19_990, 422: 10}),
        served_by=Counter({1: 10_082, 2: 9_908}),
        seconds=5.0,
    )
    text = _rendered(result)
    assert _cell(text, "statuses") == "200: 19,990, 422: 10"
    assert _cell(text, "served_by") == "v1: 10,082, v2: 9,908"
    assert _cell(text, "first_refusal") == "—"
    assert "{" not in text and "None" not in text  # no dict or None reprs


def test_an_empty_count_and_no_timing_read_as_a_dash() -> None:
    text = _rendered(SimulationResult(rows=1))
    assert _cell(text, "served_by") == "—"
    assert _cell(text, "rows_per_second") == "—"
    assert "None" not in text and "{}" not in text


@pytest.mark.parametrize("width", [80, 100])
@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "https://churn-api.example.com:8443"])
def test_the_title_fits_within_the_table(width: int, url: str) -> None:
    """The title is one line no wider than the table (it was a sentence naming the URL and
    the shift, wrapped over three lines and breaking a long URL); they are rows instead."""
    text = _rendered(SimulationResult(rows=1_000, statuses=Counter({200: 1_000})), url, width)
    title, border = text.splitlines()[:2]
    assert border.startswith("┌")
    assert len(title.strip()) <= len(border)
    assert _cell(text, "url") == url
    assert _cell(text, "shift") == "price-increase"


def test_a_long_refusal_leaves_every_row_on_one_line_at_80_columns() -> None:
    """The first refusal's body is not in its cell, where at 80 columns it wrapped over four
    lines: the cell says it is below the table, and each row stays one line within 80."""
    body = '{"detail":[{"type":"enum","loc":["body","payment_method"],"msg":"' + "x" * 90 + '"}]}'
    result = SimulationResult(
        rows=400, statuses=Counter({200: 390, 422: 10}), first_refusal=f"422: {body}"
    )
    text = _rendered(result, width=80)
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert len(rows) == len({"url": 0, "shift": 0, **result.as_dict()})  # no wrapped rows
    assert max(len(line) for line in text.splitlines()) <= 80
    assert _cell(text, "first_refusal") == "below the table"
    assert body not in text
