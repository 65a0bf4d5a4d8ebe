"""The outcome store on a real inference log — the SQLite file and PostgreSQL, the same tests
on both: keys, corrections, the join rule, and all-or-nothing recording."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from log_backends import LogBackend

from churnops import logstore
from churnops.database.url import DatabaseUrl
from churnops.outcomes.records import Outcome
from churnops.outcomes.store import (
    ConflictingOutcomesError,
    OutcomeStore,
    OutcomeStoreBusyError,
    SqliteOutcomeStore,
    UnmatchedOutcomesError,
    open_outcome_store,
)

DAY = 86_400.0
FIELDS = ["ts", "request_id", "customer_id", "model_version", "probability"]
FEATURES = (12, 65.5, 786.0, "Month-to-month", "Electronic check")
NAMES = [*logstore.prediction_columns(), "experiment_id"]


def log(db: LogBackend, *rows: tuple[float, str, str | None, str | None]) -> None:
    """Predictions (ts, request id, customer id, experiment id) scored 0.5 by v1."""
    db.append([(ts, rid, cid, 1, *FEATURES, 0.5, 1, 1.0, exp) for ts, rid, cid, exp in rows], NAMES)


@pytest.fixture
def db(log_backend: LogBackend) -> LogBackend:
    return log_backend


@pytest.fixture
def store(db: LogBackend) -> OutcomeStore:
    return open_outcome_store(db.location, window_days=30)


def labels_of(store: OutcomeStore) -> dict[str, object]:
    """request id → its outcome (None: unlabelled)."""
    frame = store.predictions(FIELDS)
    return {
        rid: (None if value is None or value != value else int(value))
        for rid, value in zip(frame["request_id"], frame["outcome"].astype(object), strict=True)
    }


def test_recording_the_same_outcomes_twice_changes_nothing(
    db: LogBackend, store: OutcomeStore
) -> None:
    log(db, (100 * DAY, "r1", "C1", None), (100 * DAY, "r2", "C2", None))
    outcomes = [Outcome("", "C1", 1, 101 * DAY), Outcome("r2", "", 0, 101 * DAY)]
    first = store.record(outcomes, "test", "some")
    assert (first.new, first.changed, first.unchanged, first.unmatched) == (2, 0, 0, 0)
    again = store.record(outcomes, "test", "some")
    assert (again.new, again.changed, again.unchanged) == (0, 0, 2)
    assert store.changes() == []
    assert labels_of(store) == {"r1": 1, "r2": 0}


def test_a_correction_replaces_the_outcome_and_is_recorded(
    db: LogBackend, store: OutcomeStore
) -> None:
    """A different value or observation time for the same customer replaces the stored one;
    the change (old and new, when, from where) is kept."""
    log(db, (100 * DAY, "r1", "C1", None))
    store.record([Outcome("", "C1", 1, 101 * DAY)], "first file", "some")
    corrected = store.record([Outcome("", "C1", 0, 102 * DAY)], "second file", "some")
    assert (corrected.new, corrected.changed) == (0, 1)
    assert labels_of(store) == {"r1": 0}
    [change] = store.changes()
    assert (change.customer_id, change.request_id) == ("C1", "")
    assert (change.old_outcome, change.new_outcome) == (1, 0)
    assert (change.old_observed_at, change.new_observed_at) == (101 * DAY, 102 * DAY)
    assert change.source == "second file"


def test_the_join_rule(db: LogBackend, store: OutcomeStore) -> None:
    """By request id regardless of time (narrowed to the customer in a batch); by customer
    only for predictions within the window before the outcome; the earliest outcome wins."""
    log(
        db,
        (10 * DAY, "batch", "A", None),  # a batch request: one request id, two customers
        (10 * DAY, "batch", "B", None),
        (49 * DAY, "old", "C", None),  # 31 days before C's outcome: outside the 30-day window
        (75 * DAY, "recent", "C", None),  # inside it
        (81 * DAY, "after", "C", None),  # after the outcome: its truth is not known yet
        (10 * DAY, "twice", "D", None),
    )
    store.record(
        [
            Outcome("batch", "A", 1, 5 * DAY),  # by request (and customer), even if "earlier"
            Outcome("", "C", 1, 80 * DAY),
            Outcome("twice", "", 0, 20 * DAY),  # observed first: wins
            Outcome("", "D", 1, 30 * DAY),
        ],
        "test",
        "some",
    )
    frame = store.predictions(FIELDS)
    assert frame["outcome"].astype(object).where(frame["outcome"].notna(), None).tolist() == [
        1,
        None,
        None,
        1,
        None,
        0,
    ]
    assert frame["request_id"].tolist() == ["batch", "batch", "old", "recent", "after", "twice"]


def test_a_window_and_an_experiment_select_predictions(db: LogBackend, store: OutcomeStore) -> None:
    log(db, (1.0, "a", "C1", "exp3"), (2.0, "b", "C1", "exp7"), (3.0, "c", "C1", None))
    store.record([Outcome("", "C1", 1, 4.0)], "test", "some")
    assert store.predictions(FIELDS, experiment_id="exp7")["request_id"].tolist() == ["b"]
    assert store.predictions(FIELDS, since=2.0, until=3.0)["request_id"].tolist() == ["b"]
    assert store.predictions(FIELDS, since=2.0)["outcome"].tolist() == [1, 1]


def test_nothing_is_recorded_when_the_match_policy_refuses(
    db: LogBackend, store: OutcomeStore
) -> None:
    """'every' (the API) refuses a set with one unknown id; 'some' (a file) refuses one where
    no outcome labels a prediction; either way nothing is stored."""
    log(db, (100 * DAY, "r1", "C1", None))
    known, unknown = Outcome("", "C1", 1, 101 * DAY), Outcome("", "C9", 1, 101 * DAY)
    with pytest.raises(UnmatchedOutcomesError, match="customer C9") as refused:
        store.record([known, unknown], "api", "every")
    assert refused.value.subjects == ("customer C9",)
    with pytest.raises(UnmatchedOutcomesError, match="none of the 1 outcomes"):
        store.record([unknown], "file", "some")
    assert store.predictions(FIELDS)["outcome"].isna().all()
    assert db.count("outcomes") == 0
    partly = store.record([known, unknown], "file", "some")
    assert (partly.new, partly.unmatched, partly.first_unmatched) == (2, 1, ("customer C9",))


@pytest.mark.parametrize(
    "pair",
    [
        (Outcome("solo", "", 1, 20 * DAY), Outcome("", "C", 0, 20 * DAY)),
        (Outcome("", "C", 1, 20 * DAY), Outcome("solo", "C", 0, 20 * DAY)),
        (Outcome("batch", "", 1, 20 * DAY), Outcome("batch", "B", 0, 20 * DAY)),
        (Outcome("batch", "A", 0, 20 * DAY), Outcome("", "A", 1, 20 * DAY)),
    ],
)
def test_two_keys_that_disagree_about_one_prediction_record_nothing(
    db: LogBackend, store: OutcomeStore, pair: tuple[Outcome, Outcome]
) -> None:
    """A request id and its customer's id (or the request alone and with its customer),
    observed at the same time, with different values: the join would take whichever came
    first, so neither order is taken."""
    log(db, (10 * DAY, "batch", "A", None), (10 * DAY, "batch", "B", None))
    log(db, (10 * DAY, "solo", "C", None), (10 * DAY, "other", "D", None))
    known = Outcome("", "D", 1, 20 * DAY)
    with pytest.raises(ConflictingOutcomesError, match="nothing was recorded") as refused:
        store.record([known, *pair], "file", "some")
    assert refused.value.pairs == ((1, 2),)
    assert "about the same prediction" in str(refused.value)
    assert store.predictions(FIELDS)["outcome"].isna().all()
    assert db.count("outcomes") == 0


def test_two_keys_that_agree_or_differ_in_time_are_both_recorded(
    db: LogBackend, store: OutcomeStore
) -> None:
    """Agreeing, or observed at different times (the earlier one labels the prediction),
    or labelling different predictions: nothing to choose by order."""
    log(db, (10 * DAY, "batch", "A", None), (10 * DAY, "batch", "B", None))
    log(db, (10 * DAY, "solo", "C", None), (10 * DAY, "old", "E", None))
    outcomes = [
        Outcome("solo", "", 1, 20 * DAY),
        Outcome("", "C", 1, 20 * DAY),  # agrees
        Outcome("batch", "A", 1, 20 * DAY),
        Outcome("", "A", 0, 21 * DAY),  # observed later: the request's outcome labels it
        Outcome("batch", "B", 0, 20 * DAY),  # another customer of the batch
        Outcome("old", "", 1, 50 * DAY),
        Outcome("", "E", 0, 50 * DAY),  # E's prediction is outside its 30-day window
    ]
    assert store.record(outcomes, "file", "some").new == 7
    frame = store.predictions(FIELDS)
    assert frame["customer_id"].tolist() == ["A", "B", "C", "E"]
    assert frame["outcome"].tolist() == [1, 0, 1, 1]


@contextmanager
def recording_elsewhere(db: LogBackend) -> Iterator[None]:
    """Another recorder's lock held meanwhile, as a long `churnops labels import` holds it."""
    if isinstance(db.location, DatabaseUrl):
        with psycopg.connect(db.location.value) as conn:
            conn.execute("LOCK TABLE outcomes IN SHARE ROW EXCLUSIVE MODE")
            yield
            conn.rollback()
        return
    conn = sqlite3.connect(db.location, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def test_a_recorder_waits_for_another_only_as_long_as_it_was_told(db: LogBackend) -> None:
    """The API's store gives up after its short wait (the CLI's waits long): a clear error
    rather than a request held for half a minute (SQLite) or for ever (PostgreSQL)."""
    log(db, (100 * DAY, "r1", "C1", None))
    store = open_outcome_store(db.location, window_days=30, lock_wait=0.5)
    store.record([Outcome("", "C1", 0, 101 * DAY)], "api", "every")  # the tables exist
    with recording_elsewhere(db):
        started = time.monotonic()
        with pytest.raises(OutcomeStoreBusyError, match=r"locked by another writer .* for 0.5 s"):
            store.record([Outcome("", "C1", 1, 101 * DAY)], "api", "every")
        assert time.monotonic() - started < 10
    assert labels_of(store) == {"r1": 0}
    assert store.record([Outcome("", "C1", 1, 101 * DAY)], "api", "every").changed == 1


def test_without_a_log_nothing_matches_and_nothing_is_read(
    db: LogBackend, store: OutcomeStore
) -> None:
    assert store.predictions(FIELDS).empty
    with pytest.raises(UnmatchedOutcomesError, match="no prediction has been logged yet"):
        store.record([Outcome("", "C1", 1, 1.0)], "file", "some")


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    from churnops.errors import BadInputError

    path = tmp_path / "inference.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BadInputError, match="not a"):
        SqliteOutcomeStore(path, 30).predictions(FIELDS)


def scored(*rows: tuple[str, float]) -> pd.DataFrame:
    """Batch-scored predictions (customer id, scored at) by v1, as ``read_scores`` gives them."""
    return pd.DataFrame(
        {
            "customer_id": [customer for customer, _ in rows],
            "model_version": [1] * len(rows),
            "probability": [0.5] * len(rows),
            "ts": [ts for _, ts in rows],
        }
    )


def test_batch_scores_are_labelled_by_the_same_rule(db: LogBackend, store: OutcomeStore) -> None:
    """A batch-scored row is a prediction without a request id: outcomes with a customer id
    (observed within the window after the scoring) label it, in the same snapshot as the log;
    an outcome naming a request id labels no batch row, even when it names the customer."""
    log(db, (100 * DAY, "r1", "C1", None))
    batch = scored(("C1", 100 * DAY), ("C2", 100 * DAY), ("C3", 100 * DAY), ("C4", 100 * DAY))
    outcomes = [
        Outcome("", "C1", 1, 101 * DAY),  # labels the logged prediction and the batch row
        Outcome("", "C2", 0, 101 * DAY),  # labels the batch row only
        Outcome("r9", "C3", 1, 101 * DAY),  # about an API answer (never logged): no batch row
        Outcome("", "C4", 1, 99 * DAY),  # observed before C4 was scored: its truth was known
    ]
    recorded = store.record(outcomes, "file", "some", scored=batch)
    assert (recorded.matched_log, recorded.matched_scores, recorded.unmatched) == (1, 2, 2)
    assert recorded.first_unmatched == ("request r9 / customer C3", "customer C4")
    frame = store.predictions(["customer_id", "probability"], scored=batch)
    shown = frame["outcome"].astype(object).where(frame["outcome"].notna(), None)
    assert list(zip(frame["customer_id"], frame["batch"], shown, strict=True)) == [
        ("C1", False, 1),
        ("C1", True, 1),
        ("C2", True, 0),
        ("C3", True, None),
        ("C4", True, None),
    ]
    assert "batch" not in store.predictions(["customer_id"]).columns  # without scored: as before


def test_batch_scores_alone_need_no_log(db: LogBackend, store: OutcomeStore) -> None:
    """A base scored only in batch: its outcomes match and label the scores; without them,
    the outcomes label nothing and nothing is recorded."""
    batch = scored(("C1", 10 * DAY), ("C2", 10 * DAY))
    outcomes = [Outcome("", "C1", 1, 11 * DAY), Outcome("", "C2", 0, 11 * DAY)]
    with pytest.raises(UnmatchedOutcomesError, match="no prediction has been logged yet"):
        store.record(outcomes, "file", "some")
    with pytest.raises(UnmatchedOutcomesError, match="logged or batch-scored prediction"):
        store.record(outcomes, "file", "every", scored=scored(("C1", 12 * DAY)))
    assert store.predictions(["customer_id"], scored=batch)["outcome"].isna().all()
    recorded = store.record(outcomes, "file", "every", scored=batch)
    assert (recorded.new, recorded.matched_log, recorded.matched_scores) == (2, 0, 2)
    frame = store.predictions(["customer_id"], scored=batch)
    assert frame["outcome"].tolist() == [1, 0] and frame["batch"].all()
    assert store.predictions(["customer_id"]).empty
