"""`churnops logs export / stats` read back what the API logged."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from api_support import SEED_BODY, api_settings
from fastapi.testclient import TestClient
from log_backends import LogBackend, use_database

from churnops.cli import main
from churnops.cli.serve_cmds import parse_when
from churnops.serving.app import create_app


def churnops(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    saved, sys.argv = sys.argv, ["churnops", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        sys.argv = saved
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def logged_home(
    trained_home: Path, log_backend: LogBackend, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A project whose API answered 3 single predictions and a batch of 4 — logged in its
    SQLite file, or in PostgreSQL (CHURNOPS_DATABASE_URL)."""
    use_database(trained_home, log_backend.location, monkeypatch)
    with TestClient(create_app(api_settings(trained_home))) as client:
        for i in range(3):
            client.post("/predict", json={**SEED_BODY, "customer_id": f"C{i}"})
        client.post("/predict/batch", json=[{**SEED_BODY, "tenure": t} for t in range(4)])
    return trained_home


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_every_logged_row(
    logged_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """Both formats hold every row, with the features, the answer and a UTC timestamp."""
    output = tmp_path / f"log.{fmt}"
    code, out, _ = churnops(
        capsys, "logs", "export", "--home", str(logged_home), "--since", "1h",
        "--format", fmt, "--output", str(output), "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["rows"] == 7
    frame = pd.read_csv(output) if fmt == "csv" else pd.read_parquet(output)
    assert len(frame) == 7
    assert sorted(frame["customer_id"].dropna()) == ["C0", "C1", "C2"]
    assert sorted(frame["tenure"])[:4] == [0, 1, 2, 3]
    stamps = pd.to_datetime(frame["ts"], utc=True)
    assert (abs(pd.Timestamp.now(tz="UTC") - stamps) < pd.Timedelta(minutes=5)).all()


def test_export_window_excludes_rows(
    logged_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--until before the traffic exports nothing."""
    output = tmp_path / "old.csv"
    code, out, _ = churnops(
        capsys, "logs", "export", "--home", str(logged_home), "--until", "1d",
        "--output", str(output), "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["rows"] == 0


def test_stats_summarise_the_log(logged_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """stats counts rows per model version."""
    code, out, _ = churnops(capsys, "logs", "stats", "--home", str(logged_home), "--json")
    summary: dict[str, Any] = json.loads(out)
    assert code == 0 and summary["rows"] == 7 and summary["by_model_version"] == {"v1": 7}


def test_bad_time_is_a_one_line_error(
    logged_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unreadable --since exits 2 with one line saying which forms work."""
    code, _, err = churnops(capsys, "logs", "stats", "--home", str(logged_home), "--since", "soon")
    assert code == 2 and "30m, 24h, 7d" in err and "Traceback" not in err


def test_missing_log_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before any prediction was logged, export says to start the API first."""
    code, _, err = churnops(capsys, "logs", "stats", "--home", str(tmp_path))
    assert code == 2 and "churnops serve" in err


def test_parse_when_forms() -> None:
    """ISO times (UTC unless stated), epoch seconds and ages all parse."""
    assert parse_when("2025-01-31T00:00:00Z") == parse_when("2025-01-31") == 1738281600.0
    assert parse_when("2025-01-31T01:00:00+01:00") == 1738281600.0
    assert parse_when("1738281600") == 1738281600.0
    age = parse_when("2h")
    assert age is not None and abs(time.time() - 7200 - age) < 5
