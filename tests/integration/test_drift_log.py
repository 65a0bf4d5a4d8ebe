"""`churnops drift` on the inference log of a trained project: verdicts, exit codes, reports."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from drift_support import log_scored, run_cli, traffic

from churnops.registry.store import Registry
from churnops.settings import Settings

HOUR = 3_600.0


def test_unshifted_traffic_is_not_drift(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 0 on traffic like the training data, compares predictions with the hold-out's,
    and writes the timestamped and latest JSON reports."""
    log_scored(trained_settings, traffic(1_500, 11), 1, time.time() - HOUR)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home), "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["drift_detected"] is False
    assert {e["status"] for e in report["features"].values()} <= {"ok", "warning"}
    assert report["prediction"]["status"] == "ok"
    assert report["groups"][0]["reference"]["version"] == 1
    assert report["groups"][0]["reference"]["prediction_rows"] > 0
    assert (trained_settings.reports_dir / "drift_latest.json").exists()
    assert report["report_path"].startswith(str(trained_settings.reports_dir))


def test_price_increase_is_drift_on_monthly_charges(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 1 and names monthly_charges when served traffic has 10% higher prices."""
    log_scored(trained_settings, traffic(1_000, 12, "price-increase"), 1, time.time() - HOUR)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home), "--last", "2h")
    assert result.code == 1, result.err
    assert "DRIFT DETECTED" in result.out
    assert "monthly_charges" in result.out.split("drifting:")[1]


def test_time_chunks_show_when_drift_began(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It judges each hour on its own, so the report shows the hour the contract mix moved."""
    start = (time.time() // HOUR - 6) * HOUR
    log_scored(trained_settings, traffic(900, 13), 1, start, step_s=HOUR * 3 / 900)
    log_scored(
        trained_settings, traffic(900, 14, "contract-shift"), 1, start + 3 * HOUR, HOUR * 3 / 900
    )
    result = run_cli(
        capsys, "drift", "--home", str(trained_settings.home), "--chunk", "1h", "--json"
    )
    assert result.code == 1
    group = json.loads(result.out)["groups"][0]
    verdicts = [c["features"]["contract_type"]["status"] for c in group["chunks"]]
    assert verdicts[:3] == ["ok", "ok", "ok"] and verdicts[3:] == ["drift"] * 3
    assert group["drift_began"] == group["chunks"][3]["start"]


def test_an_empty_window_is_bad_input(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 2 and says there are no log rows in the window."""
    log_scored(trained_settings, traffic(100, 15), 1, time.time() - 10 * HOUR)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home), "--since", "1h")
    assert result.code == 2
    assert "no log rows in this window" in result.err
    assert "Traceback" not in result.err


def test_a_single_logged_row_is_bad_input(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 2 on a log holding one row, saying how many rows a verdict needs."""
    log_scored(trained_settings, traffic(1, 16), 1, time.time() - 60)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home))
    assert result.code == 2
    assert "at least 30 rows" in result.err


def test_a_version_that_served_nothing_is_bad_input(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 2 when --version names a version that served no row in the window."""
    log_scored(trained_settings, traffic(100, 17), 1, time.time() - 60)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home), "--version", "v7")
    assert result.code == 2
    assert "no rows were served by v7" in result.err


def test_thresholds_are_configurable_from_the_command_line(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It applies threshold flags: a price rise below a raised Wasserstein floor is not drift."""
    log_scored(trained_settings, traffic(1_000, 18, "price-increase"), 1, time.time() - 60)
    home = str(trained_settings.home)
    strict = run_cli(
        capsys,
        "drift",
        "--home",
        home,
        "--wasserstein-floor",
        "0.9",
        "--psi-floor",
        "0.9",
        "--json",
    )
    assert strict.code == 0, strict.err
    assert json.loads(strict.out)["thresholds"]["wasserstein_floor"] == 0.9
    invalid = run_cli(capsys, "drift", "--home", home, "--alpha", "2")
    assert invalid.code == 2 and "drift_alpha" in invalid.err


def test_a_version_with_an_older_reference_sample_compares_what_it_has(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It judges the features a version's stored sample has and names the one it lacks (a
    version trained before that feature existed), instead of failing."""
    sample = Registry(trained_settings).version_dir(1) / "reference.parquet"
    pd.read_parquet(sample).drop(columns=["payment_method"]).to_parquet(sample)
    log_scored(trained_settings, traffic(500, 19), 1, time.time() - 60)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home), "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert "payment_method" not in report["features"]
    assert "payment_method" in report["groups"][0]["skipped_features"]
    assert len(report["features"]) == 4


def test_a_version_without_its_reference_files_is_reported(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 2 with a message naming the missing reference sample and the way out."""
    (Registry(trained_settings).version_dir(1) / "reference.parquet").unlink()
    log_scored(trained_settings, traffic(100, 20), 1, time.time() - 60)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home))
    assert result.code == 2
    assert "no reference sample" in result.err and "--reference FILE" in result.err
