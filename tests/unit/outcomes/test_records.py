"""An outcome is checked the same way from a file or the API: ids, value, observation time."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from churnops.errors import BadInputError
from churnops.outcomes.records import Outcome, distinct, make_outcome
from churnops.schema import LabelValues

LABELS = LabelValues()
NOW = datetime(2025, 6, 1, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("cell", "churned"),
    [
        ("yes", 1),
        (" YES ", 1),
        ("1", 1),
        ("1.0", 1),
        (1, 1),
        (True, 1),
        ("no", 0),
        ("False", 0),
        (0, 0),
        (False, 0),
        (0.0, 0),
    ],
)
def test_outcomes_take_the_label_spellings_prepare_accepts(cell: object, churned: int) -> None:
    outcome = make_outcome(None, "C1", cell, "2025-05-01", LABELS, NOW)
    assert outcome.churned == churned


def test_a_project_s_own_label_words_are_used() -> None:
    """A project whose label says Churned/Stayed takes those words, and not yes/no."""
    labels = LabelValues(churned=("Churned",), stayed=("Stayed",))
    assert make_outcome(None, "C1", "churned", "2025-05-01", labels, NOW).churned == 1
    with pytest.raises(BadInputError, match="Churned \\(churned\\) or Stayed \\(stayed\\)"):
        make_outcome(None, "C1", "yes", "2025-05-01", labels, NOW)


@pytest.mark.parametrize(
    ("request_id", "customer_id", "outcome", "observed", "message"),
    [
        (None, None, "yes", "2025-05-01", "neither a customer id nor a request id"),
        ("", "  ", "yes", "2025-05-01", "neither a customer id nor a request id"),
        (None, "C 1", "yes", "2025-05-01", "customer_id 'C 1' is not a valid id"),
        ("r\n1", None, "yes", "2025-05-01", "request_id"),
        (None, "C1", "maybe", "2025-05-01", "outcome 'maybe' is not"),
        (None, "C1", None, "2025-05-01", "the outcome is empty"),
        (None, "C1", float("nan"), "2025-05-01", "the outcome is empty"),
        (None, "C1", "yes", "", "observed_at is empty"),
        (None, "C1", "yes", "yesterday", "observed_at 'yesterday' is neither"),
        (None, "C1", "yes", "2025-07-01", "is in the future"),
        (None, "C1", "yes", "99999-01-01", "observed_at"),
    ],
)
def test_a_wrong_outcome_says_what_is_wrong(
    request_id: object, customer_id: object, outcome: object, observed: object, message: str
) -> None:
    with pytest.raises(BadInputError, match=message.replace("(", "\\(")):
        make_outcome(request_id, customer_id, outcome, observed, LABELS, NOW)


def test_observation_times_in_every_form_agree() -> None:
    """ISO text (UTC by default, or with a zone), epoch seconds and datetime cells (Parquet)."""
    expected = datetime(2025, 5, 1, 12, tzinfo=UTC).timestamp()
    for observed in (
        "2025-05-01T12:00:00",
        "2025-05-01T12:00:00Z",
        "2025-05-01T14:00:00+02:00",
        str(int(expected)),
        expected,
        pd.Timestamp("2025-05-01 12:00", tz="UTC"),
    ):
        assert make_outcome(None, "C1", 1, observed, LABELS, NOW).observed_at == expected


def test_repeats_are_dropped_and_disagreements_named() -> None:
    """The same outcome twice counts once; two different ones about the same customer are a
    conflict naming both rows; a request id and a customer id are different keys."""
    first = Outcome("", "C1", 1, 10.0)
    items = [
        ("row 1", first),
        ("row 2", Outcome("", "C1", 1, 10.0)),
        ("row 3", Outcome("r1", "C1", 0, 10.0)),
        ("row 4", Outcome("", "C1", 0, 10.0)),
    ]
    found = distinct(items)
    assert found.outcomes == [first, Outcome("r1", "C1", 0, 10.0)]
    assert found.duplicates == 1
    assert len(found.conflicts) == 1
    assert found.conflicts[0].startswith("row 4: customer C1 stayed")
    assert "row 1 says churned" in found.conflicts[0]


@pytest.mark.parametrize("cell", [42, 42.0, np.float64(42.0), np.int64(42), "42", " 42 "])
def test_an_id_read_as_a_number_is_the_text_a_csv_gives(cell: object) -> None:
    """A Parquet column of ids holding floats (ints with a missing value) gives 42.0: it is the
    id "42", as a CSV's 42 and the API's 42 are, so its outcome joins the logged predictions."""
    assert make_outcome(None, cell, "yes", "2025-05-01", LABELS, NOW).customer_id == "42"


def test_a_fractional_id_is_kept_as_written() -> None:
    assert make_outcome(None, 42.5, "yes", "2025-05-01", LABELS, NOW).customer_id == "42.5"
