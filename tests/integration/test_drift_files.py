"""Judging scoring files (--current), the simulator's --out, and the seed-compatible script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import printed_file
from drift_support import log_scored, run_cli, traffic

from churnops.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_unseen_payment_method_in_a_scoring_file_is_drift(
    trained_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It detects a payment method never seen in training in a batch file (the API would refuse
    such rows), against the current version's reference, and lists the new value."""
    rows = tmp_path / "batch.csv"
    written = run_cli(
        capsys, "simulate", "--shift", "new-payment-method", "--rows", "1000", "--out", str(rows)
    )
    assert written.code == 0 and rows.exists()
    html = tmp_path / "report.html"
    result = run_cli(
        capsys,
        "drift",
        "--home",
        str(trained_settings.home),
        "--current",
        str(rows),
        "--json",
        "--html-out",
        str(html),
    )
    assert result.code == 1
    report = json.loads(result.out)
    payment = report["features"]["payment_method"]
    assert payment["status"] == "drift"
    assert set(payment["unseen_values"]) == {"Digital wallet"}
    assert report["groups"][0]["reference"]["label"] == "v1"
    assert report["html_path"] == str(html) and "Digital wallet" in html.read_text(encoding="utf-8")


def test_missing_or_bad_files_are_bad_input(
    trained_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 2 with one line for a missing or empty file."""
    home = str(trained_settings.home)
    missing = run_cli(capsys, "drift", "--home", home, "--current", str(tmp_path / "nope.csv"))
    assert missing.code == 2 and "does not exist" in missing.err
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert run_cli(capsys, "drift", "--home", home, "--current", str(empty)).code == 2


def test_unknown_shift_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    """It refuses a shift name it does not know and lists the known ones."""
    result = run_cli(capsys, "simulate", "--shift", "earthquake", "--out", "x.csv")
    assert result.code == 2 and "price-increase" in result.err


def test_the_seed_script_runs_drift(trained_settings: Settings) -> None:
    """`python src/monitor_drift.py` is `churnops drift`, with its exit codes."""
    log_scored(trained_settings, traffic(500, 31), 1, time.time() - 60)
    env = {**os.environ, "CHURNOPS_HOME": str(trained_settings.home)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "src" / "monitor_drift.py"), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["drift_detected"] is False


def test_a_file_with_renamed_columns_is_bad_input(
    trained_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 2, instead of 'no drift', when fewer than half of the schema's features could
    be compared (a CSV export with its own column names), naming each missing feature and the
    file's column that looks like it."""
    rows = traffic(500, 33).rename(
        columns={
            "tenure": "TenureMonths",
            "monthly_charges": "MonthlyCharges",
            "total_charges": "TotalCharges",
            "contract_type": "Contract",
        }
    )
    batch = tmp_path / "export.csv"
    rows.to_csv(batch, index=False)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home), "--current", str(batch))
    assert result.code == 2, result.out + result.err
    assert "only 1 of 5 features could be compared" in result.err
    for schema_name, column in (
        ("tenure", "TenureMonths"),
        ("monthly_charges", "MonthlyCharges"),
        ("total_charges", "TotalCharges"),
        ("contract_type", "Contract"),
    ):
        # (column names are read without regard to case)
        assert f"{schema_name}: not in {batch} (it has {column.lower()}" in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1


def test_half_of_the_features_is_enough_for_a_verdict(
    trained_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It still judges a file holding three of the five features (the others are reported
    as not compared)."""
    batch = tmp_path / "three.csv"
    traffic(500, 34).drop(columns=["tenure", "contract_type"]).to_csv(batch, index=False)
    home = str(trained_settings.home)
    result = run_cli(capsys, "drift", "--home", home, "--current", str(batch), "--json")
    assert result.code == 0, result.out + result.err
    statuses = {n: e["status"] for n, e in json.loads(result.out)["features"].items()}
    assert statuses["tenure"] == statuses["contract_type"] == "not compared"


def test_the_terminal_report_fits_80_columns_when_piped(
    trained_settings: Settings, tmp_path: Path
) -> None:
    """Piped (not a terminal) with COLUMNS=80, `churnops drift` fits every line in 80 columns
    but the report's path, which is never broken, prints each feature name whole (not
    'featu…'), and the rule only with --explain."""
    batch = tmp_path / "batch.csv"
    traffic(600, 35, "price-increase").to_csv(batch, index=False)
    command = [sys.executable, "-m", "churnops", "drift", "--home", str(trained_settings.home)]
    env = {**os.environ, "COLUMNS": "80"}

    def run(*extra: str) -> str:
        done = subprocess.run(
            [*command, "--current", str(batch), *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        return done.stdout

    out = run()
    assert printed_file(out, "report").parent == trained_settings.reports_dir  # never broken
    assert max(len(line) for line in out.splitlines() if not line.startswith("report: ")) <= 80
    assert "(ad-hoc run: the API's drift gauges were left as they were)" in out
    assert "…" not in out
    for name in ("tenure", "monthly_charges", "total_charges", "contract_type", "payment_method"):
        assert f"│ {name} " in out, name
    assert "Holm correction" not in out and "--explain" in out
    assert "Holm correction" in " ".join(run("--explain").split())
