"""The drift report in the terminal: tables sized to the console, names never cut, the rule
only on request, and when drift started said plainly."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from drift_helpers import AUTO, group_result, judged_chunk, thresholds_with, verdict
from rich.console import Console

from churnops.monitoring.columns import normalise
from churnops.monitoring.drift import Group, build_report
from churnops.monitoring.narrative import drift_timing
from churnops.monitoring.reference import frame_reference
from churnops.monitoring.results import Chunk, DriftReport, Source
from churnops.monitoring.rule import Judgement
from churnops.monitoring.terminal import print_report, wrap_name
from churnops.schema import CategoricalFeature, FeatureSchema, NumericFeature

LONG = FeatureSchema(
    numeric=(
        NumericFeature(name="monthly_charges_including_discounts", kind="float", min=0, max=500),
        NumericFeature(name="tenure", kind="int", min=0, max=72),
    ),
    categorical=(
        CategoricalFeature(name="payment_method_electronic_check_flag", categories=("Yes", "No")),
        CategoricalFeature(
            name="streaming_television_subscription_with_premium_sports_channels",
            categories=("Yes", "No", "No internet service"),
        ),
    ),
)


def long_named(rows: int, seed: int, shift: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "monthly_charges_including_discounts": rng.gamma(4.0, 18.0, rows) * shift,
            "tenure": rng.integers(0, 73, rows),
            "payment_method_electronic_check_flag": rng.choice(["Yes", "No"], rows),
            "streaming_television_subscription_with_premium_sports_channels": rng.choice(
                ["Yes", "No", "No internet service"], rows
            ),
        }
    )


def long_report() -> DriftReport:
    """A real report on features with long names, the first of which drifts."""
    reference = frame_reference(long_named(5_000, 1), "reference", LONG)
    columns, _ = normalise(long_named(2_000, 2, shift=1.3), LONG)
    group = Group(reference, columns, None, None, None)
    source = Source(kind="file", path="current.csv")
    return build_report([group], thresholds_with(), AUTO, 10, source, [])


def rendered(report: DriftReport, explain: bool = False) -> str:
    """What the CLI prints, on a console built as the CLI builds its own (its width from
    COLUMNS, not a terminal), writing to a string."""
    out = io.StringIO()
    console = Console(file=out)
    assert not console.is_terminal
    print_report(console, report, explain)
    return out.getvalue()


def first_cells(text: str) -> list[str]:
    """The feature column of the table, each row's lines joined (a new row starts where the
    status cell is filled)."""
    names: list[str] = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) < 2:
            continue
        if cells[1]:
            names.append(cells[0])
        else:
            names[-1] += cells[0]
    return names


def test_long_feature_names_wrap_at_80_columns_without_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At COLUMNS=80 with no terminal, it fits the table in 80 columns and prints every
    feature name whole, wrapped over several lines, never cut to 'featu…'."""
    monkeypatch.setenv("COLUMNS", "80")
    text = rendered(long_report())
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert first_cells(text) == [*LONG.feature_names]
    longest = max(LONG.feature_names, key=len)
    assert not any(longest in line for line in text.splitlines())  # it had to wrap


def test_a_wide_console_shows_every_statistic(monkeypatch: pytest.MonkeyPatch) -> None:
    """It shows all the statistics columns when the console is wide enough, and leaves the
    least decisive ones out (not the decision's p-value and effect) when it is not."""
    report = long_report()
    monkeypatch.setenv("COLUMNS", "200")
    wide = rendered(report)
    monkeypatch.setenv("COLUMNS", "80")
    narrow = rendered(report)
    for label in ("PSI", "unseen", "Δ miss", "p Holm", "W/σ | JS"):
        assert label in wide, label
    assert "p Holm" in narrow and "W/σ | JS" in narrow and "unseen" not in narrow
    assert first_cells(wide) == first_cells(narrow) == [*LONG.feature_names]


@pytest.mark.parametrize(
    ("name", "width", "lines"),
    [
        (
            "payment_method_electronic_check_flag",
            20,
            ["payment_method_", "electronic_check_", "flag"],
        ),
        ("tenure", 20, ["tenure"]),
        (
            "averyveryverylongnamewithoutunderscores",
            16,
            ["averyveryverylon", "gnamewithoutunde", "rscores"],
        ),
    ],
)
def test_wrap_name(name: str, width: int, lines: list[str]) -> None:
    """It breaks names after underscores, and inside a part only when the part is too long."""
    assert wrap_name(name, width).split("\n") == lines


def test_the_rule_is_printed_only_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """It prints the decision rule's paragraph with --explain only, and a pointer to it
    otherwise."""
    monkeypatch.setenv("COLUMNS", "100")
    report = long_report()
    assert "Holm correction" not in re.sub(r"\s+", " ", rendered(report))
    assert "--explain" in rendered(report)
    assert "Holm correction" in re.sub(r"\s+", " ", rendered(report, explain=True))


def chunk(hour: int, drifting: bool, status: Judgement = "ok") -> Chunk:
    """A chunk with monthly_charges' verdict in it."""
    features = {"monthly_charges": verdict("drift" if drifting else status)}
    return judged_chunk(f"T{hour}", features, drifted=drifting, end=f"E{hour}")


@pytest.mark.parametrize(
    ("flags", "window", "expected"),
    [
        (
            [False] * 7 + [True] * 3,
            False,
            "drift started at T7 (chunk 8 of 10) and is still going in the latest chunk; "
            "over the whole window it does not show yet",
        ),
        ([True] * 4, True, "drift in every chunk, from the first (T0) to the latest: still going"),
        (
            [False, True, True, False, False],
            False,
            "drift from T1 to E2 (chunks 2–3 of 5); the 2 chunks since (T3 on) do not drift: "
            "it has stopped",
        ),
        (
            [False, False, True, False],
            True,
            "drift from T2 to E2 (chunk 3 of 4); the latest chunk (from T3) does not drift: "
            "see whether the next run agrees",
        ),
        (
            [False] * 3,
            True,
            "no single chunk drifts, but the whole window does: a small, steady change",
        ),
    ],
)
def test_the_timing_says_when_drift_started_and_whether_it_goes_on(
    flags: list[bool], window: bool, expected: str
) -> None:
    """It says plainly when the latest drift started and whether it is still going."""
    chunks = [chunk(i, flag) for i, flag in enumerate(flags)]
    assert drift_timing(group_result(chunks, window_drift=window)) == expected


def test_a_shift_still_visible_below_the_floor_is_not_called_over() -> None:
    """It does not call a drift over when the feature stays shifted, below the drift floor,
    in the chunks after."""
    chunks = [
        chunk(0, False),
        chunk(1, True),
        chunk(2, False, "warning"),
        chunk(3, False, "warning"),
    ]
    text = drift_timing(group_result(chunks))
    assert text is not None and "monthly_charges stays shifted" in text
    assert "it may not be over" in text and "stopped" not in text
