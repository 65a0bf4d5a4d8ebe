"""The background log writer: nothing blocks the caller, nothing accepted is lost."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import psycopg
import pytest
from log_backends import LogBackend
from postgres_support import Cluster
from serving_support import inputs_for

from churnops import logstore
from churnops.database import logtable, migrations
from churnops.database.url import DatabaseUrl
from churnops.schema import DEFAULT_SCHEMA, CategoricalFeature, FeatureSchema, NumericFeature
from churnops.serving.inference_log import InferenceLogWriter, LogLayout, ShadowJob, batches
from churnops.serving.log_sinks import PostgresSink
from churnops.serving.predictor import Predictor
from churnops.settings import Settings

FEATURES = SimpleNamespace(
    tenure=12,
    monthly_charges=65.5,
    total_charges=786.0,
    contract_type="Month-to-month",
    payment_method="Electronic check",
    customer_id="C0000001",
)
LAYOUT = LogLayout(DEFAULT_SCHEMA)
OTHER = FeatureSchema(
    numeric=(NumericFeature(name="order", kind="int", min=0, max=10),),
    categorical=(CategoricalFeature(name="plan", categories=("basic", "pro")),),
)


def writer(location: Path | DatabaseUrl, **overrides: float) -> InferenceLogWriter:
    options = {
        "capacity": 10_000,
        "batch_size": 100,
        "flush_interval": 0.05,
        "shutdown_timeout": 30.0,
        **overrides,
    }
    return InferenceLogWriter(
        location,
        capacity=int(options["capacity"]),
        batch_size=int(options["batch_size"]),
        flush_interval=options["flush_interval"],
        shutdown_timeout=options["shutdown_timeout"],
    )


def one_row(request_id: str = "r1") -> tuple[object, ...]:
    return LAYOUT.row(1_700_000_000.5, request_id, 3, FEATURES, 0.75, True, 1.25)


def test_row_matches_the_table_columns(log_backend: LogBackend) -> None:
    """A logged row reads back with every column in place."""
    log = writer(log_backend.location)
    log.start()
    log.submit(LAYOUT, [one_row()])
    log.close()
    frame = logstore.read(log_backend.location)
    experiment = list(logstore.EXPERIMENT_COLUMNS)
    assert frame[experiment].isna().all(axis=None)  # served outside an experiment
    assert frame.drop(columns=experiment).iloc[0].to_dict() == {
        "ts": 1_700_000_000.5,
        "request_id": "r1",
        "customer_id": "C0000001",
        "model_version": 3,
        "tenure": 12.0,
        "monthly_charges": 65.5,
        "total_charges": 786.0,
        "contract_type": "Month-to-month",
        "payment_method": "Electronic check",
        "probability": 0.75,
        "decision": 1,
        "latency_ms": 1.25,
    }


def test_batch_rows_equal_single_rows() -> None:
    """Column-wise batch rows are the same tuples as row-by-row ones."""
    columns = {name: [getattr(FEATURES, name)] * 2 for name in vars(FEATURES)}
    rows = LAYOUT.rows(1_700_000_000.5, "r1", 3, columns, [0.75, 0.75], [True, True], 1.25)
    assert rows == [one_row()] * 2


def test_close_writes_everything_from_many_threads(log_backend: LogBackend) -> None:
    """Rows submitted concurrently are all in the database after close, none dropped."""
    log = writer(log_backend.location, flush_interval=10.0)  # only full batches and close
    log.start()

    def submit(thread: int) -> None:
        for i in range(500):
            log.submit(LAYOUT, [one_row(f"{thread}-{i}")])

    threads = [threading.Thread(target=submit, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    assert (log.written, log.dropped, log.pending) == (2_000, 0, 0)
    assert logstore.read(log_backend.location)["request_id"].nunique() == 2_000


def test_submit_never_waits_for_the_database(tmp_path: Path) -> None:
    """With the database locked by another writer, submitting still returns at once."""
    path = tmp_path / "log.sqlite"
    log = writer(path, batch_size=1)
    log.start()
    blocker = sqlite3.connect(path)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
    began = time.perf_counter()
    for i in range(200):
        assert log.submit(LAYOUT, [one_row(str(i))])
    assert time.perf_counter() - began < 0.5
    blocker.rollback()  # lock released: the writer's busy wait ends
    blocker.close()
    log.close()
    assert log.written == 200


def test_overflow_is_counted_and_warned(
    log_backend: LogBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """When the buffer is full, rows are dropped, counted and a warning is logged."""
    log = writer(log_backend.location, capacity=5, flush_interval=10.0, batch_size=1_000)
    log.start()
    accepted = [log.submit(LAYOUT, [one_row(str(i))]) for i in range(8)]
    log.close()
    assert accepted == [True] * 5 + [False] * 3
    assert (log.written, log.dropped) == (5, 3)
    assert "dropped" in caplog.text


def test_rows_after_close_are_dropped_not_lost_silently(log_backend: LogBackend) -> None:
    """A row submitted after shutdown is counted as dropped."""
    log = writer(log_backend.location)
    log.start()
    log.close()
    assert not log.submit(LAYOUT, [one_row()])
    assert log.dropped == 1


def test_insert_stores_every_value_exactly(tmp_path: Path) -> None:
    """Rows spanning several multi-row statements read back value for value, in order."""
    rng = np.random.default_rng(1)
    rows = [
        (
            1_700_000_000 + float(rng.random()),
            f"r{i}",
            None if i % 3 else f"C{i}",
            int(rng.integers(1, 5)),
            int(rng.integers(0, 73)),
            float(rng.uniform(0, 500)),
            float(rng.uniform(0, 50_000)),
            "One year",
            "Mailed check",
            float(rng.random()),
            bool(i % 2),
            float(rng.random() * 10),
        )
        for i in range(1_234)  # more than two statements' worth
    ]
    conn = logstore.connect(tmp_path / "log.sqlite")
    assert logstore.insert(conn, rows, names=logstore.prediction_columns()) == 1_234
    conn.close()
    read = logstore.read(tmp_path / "log.sqlite", fields=logstore.prediction_columns())
    back = list(read.itertuples(index=False, name=None))
    assert [tuple(None if pd.isna(v) else v for v in row) for row in back] == [
        (*row[:4], float(row[4]), *row[5:10], int(row[10]), row[11]) for row in rows
    ]


def test_a_row_the_database_cannot_store_is_counted_and_the_writer_goes_on(
    log_backend: LogBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """A value the database refuses (an integer beyond 64 bits: SQLite's driver raises
    OverflowError, not an SQLite error) costs only its own row: the rest of its batch and later
    rows are written, the writer thread keeps running, and the lost row is counted and logged."""
    log = writer(log_backend.location, flush_interval=0.05)
    log.start()
    bad = LAYOUT.row(1_700_000_000.5, "bad", 2**63, FEATURES, 0.5, True, 1.0)
    assert log.submit(LAYOUT, [one_row("before"), bad, one_row("beside")])
    deadline = time.monotonic() + 30
    while log.pending and time.monotonic() < deadline:
        time.sleep(0.02)
    assert log.running
    assert log.submit(LAYOUT, [one_row("after")])
    log.close()
    assert (log.written, log.failed, log.dropped) == (3, 1, 0)
    assert log.last_error is not None and "Error" in log.last_error
    assert "not written" in caplog.text
    assert set(logstore.read(log_backend.location)["request_id"]) == {
        "before",
        "beside",
        "after",
    }


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.ProtocolViolation("insufficient data left in message"),
        psycopg.errors.QueryCanceled("COPY from stdin failed: error from Python"),
    ],
)
def test_postgresql_refusing_the_data_sent_is_not_retried_as_an_outage(error: Exception) -> None:
    """PostgreSQL words a malformed binary ``COPY`` row as a protocol violation and a ``COPY``
    the client aborted as a cancellation — both OperationalErrors, like a lost connection. Retried
    as an outage, the whole batch was lost after the patience ran out; as refused data, the
    writer retries row by row and loses only the bad row (the test above, when the driver sends
    the out-of-range value instead of raising)."""
    sink = PostgresSink(DatabaseUrl("postgresql://u@127.0.0.1:1/d"))
    assert not sink.transient(error)
    assert sink.transient(psycopg.errors.AdminShutdown("terminating connection"))
    assert sink.transient(psycopg.OperationalError("connection lost"))


def test_stopping_gives_up_after_the_shutdown_timeout(tmp_path: Path) -> None:
    """With the database locked by another process, a stop writes for at most the shutdown
    timeout (not retries × SQLite's 30 s busy wait), then counts the rows it could not
    write."""
    path = tmp_path / "log.sqlite"
    log = writer(path, shutdown_timeout=0.5, flush_interval=10.0)
    log.start()
    blocker = sqlite3.connect(path)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock until the test ends
    try:
        for i in range(250):  # three batches of at most 100
            log.submit(LAYOUT, [one_row(str(i))])
        closer = threading.Thread(target=log.close)
        closer.start()
        closer.join(timeout=60)  # a generous deadline: before, this took minutes
        assert not closer.is_alive()
    finally:
        blocker.rollback()
        blocker.close()
    assert (log.written, log.failed, log.pending) == (0, 250, 0)
    assert not log.running


def test_a_stop_during_an_outage_ends_with_the_whole_loss(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Stopped while PostgreSQL cannot be reached: failures are logged at most once per 10 s,
    so the last line used to count only the first failed batch (100 of 250 rows here), and
    the queue-full drops not at all. Now close ends with one line of every row lost since
    the start; the failure line shows neither the exception class nor the URL twice."""
    url = DatabaseUrl("postgresql://u@127.0.0.1:1/d")  # nothing listens on port 1
    log = writer(url, capacity=250, shutdown_timeout=0.5, flush_interval=10.0)
    log.start()
    accepted = [log.submit(LAYOUT, [one_row(str(i))]) for i in range(260)]
    log.close()
    assert accepted.count(True) == 250 and (log.written, log.failed, log.dropped) == (0, 250, 10)
    failures = [r.getMessage() for r in caplog.records if "not written:" in r.getMessage()]
    assert failures and "BadInputError" not in failures[0]
    assert failures[0].count(str(url)) == 1
    last = caplog.records[-1]
    assert last.levelname == "ERROR"
    assert "250 row(s) not written and 10 dropped" in last.getMessage()


def test_rows_of_two_schemas_are_written_with_their_own_columns(log_backend: LogBackend) -> None:
    """One writer takes rows of two feature schemas (a swap to a version with other features):
    each row lands in its schema's columns and reads back with ``logstore.read(schema=…)``;
    the log starts with no feature columns and gains each schema's with its first rows."""
    path = log_backend.location
    log = writer(path, flush_interval=10.0)
    log.start()
    assert not set(DEFAULT_SCHEMA.feature_names) & set(logstore.stored_columns(path))
    other = LogLayout(OTHER)
    log.submit(LAYOUT, [one_row("default-1")])
    log.submit(
        other,
        [
            other.row(
                2.0,
                "other-1",
                4,
                SimpleNamespace(order=7, plan="pro", customer_id="C2"),
                0.25,
                False,
                1.0,
            )
        ],
    )
    log.submit(LAYOUT, [one_row("default-2")])
    log.close()
    assert (log.written, log.failed) == (3, 0)
    default = logstore.read(path)
    assert default["request_id"].tolist() == ["default-1", "other-1", "default-2"]
    assert default["contract_type"].tolist()[::2] == ["Month-to-month"] * 2
    assert default["contract_type"].isna().tolist() == [False, True, False]
    mine = logstore.read(path, schema=OTHER)
    assert mine.loc[1, ["order", "plan", "model_version"]].tolist() == [7, "pro", 4]
    everything = logstore.read(path, schema=None)
    assert {*DEFAULT_SCHEMA.feature_names, "order", "plan"} <= set(everything.columns)


def test_batches_keep_the_order_and_never_mix_layouts() -> None:
    """Chunks become batches of one layout each, at most ``size`` rows, in submission order."""
    other = LogLayout(OTHER)
    chunks = [(LAYOUT, [1, 2]), (LAYOUT, [3]), (other, [4, 5, 6]), (LAYOUT, [7])]
    got = [(layout is LAYOUT, rows) for layout, rows in batches(chunks, 2)]  # type: ignore[arg-type]
    assert got == [(True, [1, 2]), (True, [3]), (False, [4, 5]), (False, [6]), (True, [7])]


def shadow_rows(count: int, start: int = 0) -> list[tuple[object, ...]]:
    marks = ("champion", 0, "exp1", 2, None)
    return [
        LAYOUT.row(1_700_000_000.5, f"s{start + i}", 1, FEATURES, 0.5, True, 1.0, marks)
        for i in range(count)
    ]


def test_shadow_scores_are_filled_in_before_the_insert(tmp_path: Path, settings: Settings) -> None:
    """Rows queued with a shadow job are written with the challenger's score of their own
    encoded row, all jobs of one flush scored together; rows without a job keep no score."""
    predictor = Predictor(settings, inputs_for)
    predictor.refresh()
    model = predictor.current
    assert model is not None
    frame = pd.DataFrame({**{k: [v] * 3 for k, v in vars(FEATURES).items()}, "tenure": [1, 30, 60]})
    matrix = DEFAULT_SCHEMA.encode(frame)
    expected = model.predict(matrix)
    log = writer(tmp_path / "log.sqlite", flush_interval=0.5)
    log.start()
    log.submit(LAYOUT, shadow_rows(2), ShadowJob(model, matrix[:2]))
    log.submit(LAYOUT, [one_row("plain")])
    log.submit(LAYOUT, shadow_rows(1, start=2), ShadowJob(model, matrix[2:]))
    log.close()
    stored = logstore.read(tmp_path / "log.sqlite").set_index("request_id")
    assert stored.loc[["s0", "s1", "s2"], "shadow_probability"].to_numpy() == pytest.approx(
        expected, abs=1e-9
    )
    assert pd.isna(stored.loc["plain", "shadow_probability"])
    assert (log.shadow_scored, log.shadow_failed, log.written) == (3, 0, 4)


def test_a_failing_shadow_score_loses_no_row(tmp_path: Path, settings: Settings) -> None:
    """ONNX Runtime refusing the shadow job (a matrix of the wrong width) is counted; the rows
    are still written, without a shadow score."""
    predictor = Predictor(settings, inputs_for)
    predictor.refresh()
    model = predictor.current
    assert model is not None
    log = writer(tmp_path / "log.sqlite")
    log.start()
    log.submit(LAYOUT, shadow_rows(2), ShadowJob(model, np.zeros((2, 3), dtype=np.float32)))
    log.close()
    stored = logstore.read(tmp_path / "log.sqlite")
    assert len(stored) == 2 and stored["shadow_probability"].isna().all()
    assert (log.shadow_scored, log.shadow_failed, log.failed) == (0, 2, 0)


def test_a_database_outage_is_buffered_then_written(
    database: DatabaseUrl, postgres_cluster: Cluster
) -> None:
    """PostgreSQL stopped under the writer: submitting still succeeds, rows wait in memory up
    to the bound (the rest counted as dropped), and after the server is back every accepted
    row is written — the lost connection is reopened."""
    log = writer(database, capacity=300, batch_size=50, flush_interval=0.05)
    log.start()
    log.submit(LAYOUT, [one_row("before")])
    deadline = time.monotonic() + 60
    while log.written < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    postgres_cluster.stop()
    try:
        accepted = [log.submit(LAYOUT, [one_row(f"during-{i}")]) for i in range(400)]
        time.sleep(0.5)  # the writer tries, fails and keeps the rows
        assert log.written == 1 and log.failed == 0
    finally:
        postgres_cluster.start()
    log.close()
    assert accepted.count(True) == 300 and log.dropped == 100
    assert (log.written, log.failed, log.pending) == (301, 0, 0)
    assert len(logstore.read(database)) == 301


def _wait_written(log: InferenceLogWriter, count: int) -> None:
    deadline = time.monotonic() + 60
    while log.written < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_rows_after_a_prune_of_the_partition_in_use_are_written(database: DatabaseUrl) -> None:
    """`logs prune` dropping the day the writer is writing to (a prune just after midnight
    takes yesterday's late rows' day): the writer creates the partition again instead of
    failing every later row until it restarts."""
    log = writer(database)
    log.start()
    log.submit(LAYOUT, [one_row("before")])
    _wait_written(log, 1)
    assert len(logtable.prune(database, before=2_000_000_000).partitions) == 1
    log.submit(LAYOUT, [one_row(f"after-{i}") for i in range(5)])
    log.close()
    assert (log.written, log.failed) == (6, 0)
    assert len(logstore.read(database)) == 5


def test_rows_wait_for_a_database_recreated_empty(
    database: DatabaseUrl, postgres_cluster: Cluster
) -> None:
    """The database dropped and created again (a restore, a mistake) while the API runs: rows
    wait for `churnops db upgrade` (within the writer's patience) and are then written, into a
    table that gets the project's feature columns again."""
    log = writer(database)
    log.start()
    log.submit(LAYOUT, [one_row("before")])
    _wait_written(log, 1)
    name = database.value.rsplit("/", 1)[1]
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    log.submit(LAYOUT, [one_row(f"after-{i}") for i in range(5)])
    time.sleep(0.5)  # the writer finds no table and waits
    assert log.failed == 0
    migrations.upgrade(database)
    _wait_written(log, 6)
    log.close()
    assert (log.written, log.failed) == (6, 0)
    assert logstore.read(database)["contract_type"].tolist() == ["Month-to-month"] * 5
