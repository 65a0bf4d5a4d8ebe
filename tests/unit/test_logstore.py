"""The inference log's table: one log takes rows of several feature schemas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from log_backends import LogBackend

from churnops import logstore
from churnops.database.url import DatabaseUrl
from churnops.schema import DEFAULT_SCHEMA, CategoricalFeature, FeatureSchema, NumericFeature

OTHER = FeatureSchema(
    numeric=(NumericFeature(name="order", kind="int", min=0, max=10),),
    categorical=(CategoricalFeature(name="plan", categories=("basic", "pro")),),
)


def _row(schema: FeatureSchema, features: tuple[object, ...], version: int) -> tuple[object, ...]:
    experiment = (None,) * len(logstore.EXPERIMENT_COLUMNS)
    return (1.0, f"r{version}", "C1", version, *features, 0.5, 1, 2.0, *experiment)


def test_rows_of_two_schemas_share_one_log(tmp_path: Path) -> None:
    """A log created for one schema takes rows of another (a feature named like an SQL keyword
    included); each schema's rows read back with its own columns, NULL in the others'."""
    path = tmp_path / "log.sqlite"
    conn = logstore.connect(path, DEFAULT_SCHEMA)
    logstore.insert(conn, [_row(DEFAULT_SCHEMA, (1, 2.0, 3.0, "One year", "Mailed check"), 1)])
    logstore.ensure_columns(conn, OTHER)
    logstore.insert(conn, [_row(OTHER, (7, "pro"), 2)], OTHER)
    conn.close()
    other = logstore.read(path, schema=OTHER)
    assert other["order"].tolist()[1] == 7 and other["plan"].isna().tolist() == [True, False]
    assert other["plan"].tolist()[1] == "pro"
    default = logstore.read(path)
    assert default["contract_type"].tolist()[0] == "One year"
    assert default["contract_type"].isna().tolist() == [False, True]


def test_an_older_log_gains_the_experiment_columns(tmp_path: Path) -> None:
    """A log written before experiments existed is upgraded in place when opened."""
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE inference_log (id INTEGER PRIMARY KEY, ts REAL NOT NULL, request_id "
            "TEXT NOT NULL, customer_id TEXT, model_version INTEGER NOT NULL, tenure REAL, "
            "monthly_charges REAL, total_charges REAL, contract_type TEXT, payment_method TEXT, "
            "probability REAL NOT NULL, decision INTEGER NOT NULL, latency_ms REAL NOT NULL)"
        )
        old.execute(
            "INSERT INTO inference_log VALUES (1, 5.0, 'r', 'C', 1, 1, 2, 3, 'One year', "
            "'Mailed check', 0.5, 1, 1.0)"
        )
    logstore.connect(path).close()
    frame = logstore.read(path)
    assert frame["request_id"].tolist() == ["r"]
    assert frame[list(logstore.EXPERIMENT_COLUMNS)].isna().all(axis=None)


def test_both_backends_read_back_the_same_frame(tmp_path: Path, database: DatabaseUrl) -> None:
    """The PostgreSQL log reads back the frame the SQLite log does — NULLs, empty and
    NULL-looking texts, numeric-looking texts, whole floats, columns of NULLs — in id order,
    whole and by window."""
    names = logstore.prediction_columns()
    rows = [
        (1.0, "r1", "007", 1, 12.0, 65.0, 780.0, "Month-to-month", "", 0.25, 0, 1.0),
        (3.0, "r2", None, 2, None, 70.5, 1.5, "\\N", None, 0.75, 1, 2.5),
        (2.0, "r3", "NULL", 1, 1.0, 20.0, 20.0, "", "Electronic check", 0.5, 1, 0.0),
    ]
    sqlite, postgres = (
        LogBackend("sqlite", tmp_path / "log.sqlite"),
        LogBackend("postgres", database),
    )
    for backend in (sqlite, postgres):
        backend.append(rows, names)
    for window in ({}, {"since": 2.0}, {"last": 2}, {"fields": ["ts", "shadow_probability"]}):
        expected = logstore.read(sqlite.location, **window)  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(logstore.read(postgres.location, **window), expected)  # type: ignore[arg-type]
    customers = logstore.read(postgres.location)["customer_id"]
    assert customers[0] == "007" and pd.isna(customers[1]) and customers[2] == "NULL"
