"""``churnops labels import``: the real CLI on a real inference log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from cli_support import RunCli, assert_one_line_error

from churnops import logstore
from churnops.schema import CUSTOMER_ID_RULE, REQUEST_ID_RULE
from churnops.settings import Settings

FEATURES = (12, 65.5, 786.0, "Month-to-month", "Electronic check")
OBSERVED = "2025-06-01T00:00:00Z"


@pytest.fixture
def logged(trained_settings: Settings) -> Settings:
    """Predictions for customers C1–C5 (request ids r1–r5), made on 2025-05-01."""
    conn = logstore.connect(trained_settings.inference_db)
    ts = pd.Timestamp("2025-05-01", tz="UTC").timestamp()
    rows = [(ts, f"r{i}", f"C{i}", 1, *FEATURES, 0.5, 1, 1.0) for i in range(1, 6)]
    logstore.insert(conn, rows, names=logstore.prediction_columns())
    conn.close()
    return trained_settings


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    frame = pd.DataFrame(rows)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def stored_outcomes(settings: Settings) -> int:
    with sqlite3.connect(settings.inference_db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "outcomes" not in tables:
            return 0
        return int(conn.execute("SELECT COUNT(*) FROM outcomes").fetchone()[0])


def test_importing_twice_changes_nothing_and_a_correction_is_recorded(
    logged: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    """New, then unchanged on the second import; a corrected file changes one outcome and
    `labels changes` shows it."""
    home = logged.home
    rows = [
        {"customer_id": "C1", "outcome": "yes", "observed_at": OBSERVED},
        {"customer_id": "C2", "outcome": "no", "observed_at": OBSERVED},
        {"customer_id": "C2", "outcome": "no", "observed_at": OBSERVED},  # an exact repeat
    ]
    path = write(tmp_path / "outcomes.csv", rows)
    first = run_cli("labels", "import", path, "--home", home, "--json")
    assert first.code == 0, first.err
    assert first.json() | {"file": None} == {
        "file": None,
        "rows": 3,
        "duplicates": 1,
        "new": 2,
        "changed": 0,
        "unchanged": 0,
        "unmatched": 0,
        "first_unmatched": [],
    }
    again = run_cli("labels", "import", path, "--home", home, "--json").json()
    assert (again["new"], again["changed"], again["unchanged"]) == (0, 0, 2)
    rows[1]["outcome"] = "yes"
    corrected = write(tmp_path / "corrected.csv", rows[:2])
    third = run_cli("labels", "import", corrected, "--home", home)
    assert third.code == 0 and "changed" in third.out
    changes = run_cli("labels", "changes", "--home", home, "--json").json()
    assert [(c["customer_id"], c["old_outcome"], c["new_outcome"]) for c in changes] == [
        ("C2", 0, 1)
    ]
    assert changes[0]["source"] == "labels import corrected.csv"


def test_parquet_with_request_ids_datetimes_and_booleans(
    logged: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "outcomes.parquet",
        [
            {"request_id": "r3", "outcome": True, "observed_at": pd.Timestamp(OBSERVED)},
            {"request_id": "r4", "outcome": False, "observed_at": pd.Timestamp(OBSERVED)},
        ],
    )
    found = run_cli("labels", "import", path, "--home", logged.home, "--json")
    assert found.code == 0, found.err
    assert found.json()["new"] == 2
    assert stored_outcomes(logged) == 2


def test_one_bad_row_and_nothing_is_imported(
    logged: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    """The error counts the bad rows and names the first ones; nothing is stored."""
    path = write(
        tmp_path / "outcomes.csv",
        [
            {"customer_id": "C1", "outcome": "yes", "observed_at": OBSERVED},
            {"customer_id": "C2", "outcome": "perhaps", "observed_at": OBSERVED},
            {"customer_id": "", "outcome": "no", "observed_at": OBSERVED},
            {"customer_id": "C3", "outcome": "no", "observed_at": "soon"},
        ],
    )
    found = run_cli("labels", "import", path, "--home", logged.home)
    assert_one_line_error(found, 2, "3 bad row(s) of 4", "nothing was imported", "row 2:", "row 4")
    assert stored_outcomes(logged) == 0


def test_bad_ids_are_told_in_words_without_echoing_them_whole(
    logged: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    """A bad id's reason says what an id may hold, not the regular expression, and shows a
    long id cut."""
    long = "C" * 10_000
    path = write(
        tmp_path / "outcomes.csv",
        [
            {"request_id": "r 1", "customer_id": "C1", "outcome": "yes", "observed_at": OBSERVED},
            {"request_id": "", "customer_id": long, "outcome": "no", "observed_at": OBSERVED},
        ],
    )
    found = run_cli("labels", "import", path, "--home", logged.home)
    assert_one_line_error(
        found,
        2,
        "2 bad row(s) of 2",
        f"row 1: request_id 'r 1' is not a valid id: use {REQUEST_ID_RULE}",
        f"row 2: customer_id '{long[:80]}…' is not a valid id: use {CUSTOMER_ID_RULE}",
    )
    assert "[A-Za-z" not in found.err and len(found.err) < 1_000
    assert stored_outcomes(logged) == 0


def test_two_rows_that_disagree_are_refused(
    logged: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "outcomes.csv",
        [
            {"customer_id": "C1", "outcome": "yes", "observed_at": OBSERVED},
            {"customer_id": "C1", "outcome": "no", "observed_at": OBSERVED},
        ],
    )
    found = run_cli("labels", "import", path, "--home", logged.home)
    assert_one_line_error(found, 2, "row 2: customer C1 stayed", "row 1 says churned")
    assert stored_outcomes(logged) == 0


def test_two_rows_that_disagree_about_one_prediction_are_refused(
    logged: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    """One row names request r1, another r1's customer C1, observed at the same time: which
    outcome labels the prediction would depend on the rows' order, so neither is taken."""
    path = write(
        tmp_path / "outcomes.csv",
        [
            {"request_id": "r1", "customer_id": "", "outcome": "yes", "observed_at": OBSERVED},
            {"request_id": "", "customer_id": "C2", "outcome": "no", "observed_at": OBSERVED},
            {"request_id": "", "customer_id": "C1", "outcome": "no", "observed_at": OBSERVED},
        ],
    )
    found = run_cli("labels", "import", path, "--home", logged.home)
    assert_one_line_error(
        found,
        2,
        "1 bad row(s) of 3, nothing was imported",
        "row 3: customer C1 stayed",
        "row 1 (request r1) says churned",
        "about the same prediction",
    )
    assert stored_outcomes(logged) == 0


def test_outcomes_for_unknown_ids(logged: Settings, run_cli: RunCli, tmp_path: Path) -> None:
    """No outcome labelling any prediction (a wrong file or home) is refused; some unknown
    ones among known ones are stored, counted and named."""
    unknown = write(
        tmp_path / "unknown.csv",
        [{"customer_id": "X1", "outcome": 1, "observed_at": OBSERVED}],
    )
    found = run_cli("labels", "import", unknown, "--home", logged.home)
    assert_one_line_error(found, 2, "none of the 1 outcomes labels a logged prediction", "X1")
    assert stored_outcomes(logged) == 0
    mixed = write(
        tmp_path / "mixed.csv",
        [
            {"customer_id": "C1", "outcome": 1, "observed_at": OBSERVED},
            {"customer_id": "X1", "outcome": 1, "observed_at": OBSERVED},
        ],
    )
    partly = run_cli("labels", "import", mixed, "--home", logged.home)
    assert partly.code == 0
    assert "1 outcome(s) label no logged prediction" in partly.out
    assert "customer X1" in partly.out


def test_a_home_without_a_log_is_left_as_it_was(run_cli: RunCli, tmp_path: Path) -> None:
    """Outcomes refused for want of any logged prediction (a wrong --home) create no log."""
    home = tmp_path / "home"
    home.mkdir()
    outcomes = write(
        tmp_path / "outcomes.csv",
        [{"customer_id": "C1", "outcome": 1, "observed_at": OBSERVED}],
    )
    found = run_cli("labels", "import", outcomes, "--home", home)
    assert_one_line_error(found, 2, "no prediction has been logged yet", "C1")
    assert list(home.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("customer_id,outcome\nC1,yes\n", ["lacks the column(s) observed_at"]),
        ("id,outcome,observed_at\nC1,yes,2025-06-01\n", ["customer_id or request_id"]),
        ("customer_id,outcome,observed_at\n", ["has a header but no rows"]),
    ],
)
def test_a_file_of_the_wrong_shape(
    logged: Settings, run_cli: RunCli, tmp_path: Path, content: str, words: list[str]
) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text(content, encoding="utf-8")
    assert_one_line_error(run_cli("labels", "import", path, "--home", logged.home), 2, *words)


def test_a_missing_or_unreadable_file(logged: Settings, run_cli: RunCli, tmp_path: Path) -> None:
    missing = run_cli("labels", "import", tmp_path / "nope.csv", "--home", logged.home)
    assert_one_line_error(missing, 2, "does not exist")
    garbage = tmp_path / "outcomes.parquet"
    garbage.write_bytes(b"PAR1 not really")
    assert_one_line_error(
        run_cli("labels", "import", garbage, "--home", logged.home), 2, "not a readable Parquet"
    )


def test_logs_export_includes_outcomes(logged: Settings, run_cli: RunCli, tmp_path: Path) -> None:
    """Each exported prediction carries its outcome and when it was observed (empty when
    none has arrived); without the option the export is as before."""
    path = write(
        tmp_path / "outcomes.csv",
        [
            {"customer_id": "C1", "outcome": "yes", "observed_at": OBSERVED},
            {"request_id": "r2", "outcome": "no", "observed_at": OBSERVED},
        ],
    )
    run_cli("labels", "import", path, "--home", logged.home)
    for suffix, fmt in ((".csv", "csv"), (".parquet", "parquet")):
        out = tmp_path / f"export{suffix}"
        found = run_cli(
            "logs", "export", "-o", out, "--format", fmt, "--with-outcomes", "--home", logged.home
        )
        assert found.code == 0, found.err
        frame = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
        assert frame["outcome"].tolist()[:2] == [1, 0] and frame["outcome"][2:].isna().all()
        observed = pd.to_datetime(frame["outcome_observed_at"], utc=True)
        assert observed[0] == pd.Timestamp(OBSERVED)
    plain = tmp_path / "plain.csv"
    run_cli("logs", "export", "-o", plain, "--home", logged.home)
    assert "outcome" not in pd.read_csv(plain).columns
