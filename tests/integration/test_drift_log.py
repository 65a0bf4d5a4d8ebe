"""`churnops drift` on the inference log of a trained project: verdicts, exit codes, reports."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from drift_support import log_scored, run_cli, traffic

from churnops.registry.store import Registry
from churnops.settings import Settings

HOUR = 3_600.0
DAY = 24 * HOUR


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


@pytest.mark.parametrize(
    ("window", "words"),
    [
        (("--last", "1d"), "only 3 row(s) to judge in this window (since "),
        (("--last", "3"), "only 3 row(s) to judge in this window (last 3 rows);"),
        ((), "only 3 row(s) to judge in this window (the whole log);"),
    ],
)
def test_too_few_rows_name_the_window(
    trained_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    window: tuple[str, ...],
    words: str,
) -> None:
    """The window reads as one ('in this window (since …)'), not 'in since …'."""
    log_scored(trained_settings, traffic(3, 18), 1, time.time() - 60)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home), *window)
    assert result.code == 2
    assert words in result.err, result.err


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
    """It applies threshold flags: a price rise below raised Wasserstein, PSI and mean-change
    floors is not drift."""
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
        "--mean-change-floor",
        "0.9",
        "--json",
    )
    assert strict.code == 0, strict.err
    thresholds = json.loads(strict.out)["thresholds"]
    assert thresholds["wasserstein_floor"] == thresholds["mean_change_floor"] == 0.9
    invalid = run_cli(capsys, "drift", "--home", home, "--alpha", "2")
    assert invalid.code == 2 and "drift_alpha" in invalid.err


def test_a_version_with_an_older_reference_sample_compares_what_it_has(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It judges the features a version's stored sample has and reports the one it lacks (a
    version trained before that feature existed) as not compared, instead of failing."""
    sample = Registry(trained_settings).version_dir(1) / "reference.parquet"
    pd.read_parquet(sample).drop(columns=["payment_method"]).to_parquet(sample)
    log_scored(trained_settings, traffic(500, 19), 1, time.time() - 60)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home), "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["features"]["payment_method"]["status"] == "not compared"
    assert "payment_method" in report["groups"][0]["skipped_features"]
    assert sum(e["status"] != "not compared" for e in report["features"].values()) == 4


def test_a_version_without_its_reference_files_is_reported(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 2 with a message naming the missing reference sample and the way out."""
    (Registry(trained_settings).version_dir(1) / "reference.parquet").unlink()
    log_scored(trained_settings, traffic(100, 20), 1, time.time() - 60)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home))
    assert result.code == 2
    assert "no reference sample" in result.err and "--reference FILE" in result.err


def test_a_price_increase_on_the_last_day_is_drift_over_the_whole_log(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no window option (the whole log), it exits 1 when only the last of four days has
    10% higher prices, names monthly_charges and says when the drift began."""
    start = (time.time() // DAY - 4) * DAY
    for day in range(4):
        shift = "price-increase" if day == 3 else None
        rows = traffic(600, 40 + day, shift)
        log_scored(trained_settings, rows, 1, start + day * DAY, step_s=DAY / 600)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home), "--json")
    assert result.code == 1, result.out + result.err
    report = json.loads(result.out)
    [group] = report["groups"]
    assert group["recent_drift"] is True
    assert report["features"]["monthly_charges"]["status"] == "drift"
    began = pd.Timestamp(report["drift_began"]).timestamp()
    assert start + 3 * DAY <= began < start + 4 * DAY
    assert group["drift_began"] == report["drift_began"]


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database" * 100)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _folder(path: Path) -> None:
    path.mkdir()


def _other_table(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE something_else (x INTEGER)")
    conn.close()


@pytest.mark.parametrize("spoil", [_garbage, _empty, _folder, _other_table])
def test_an_unreadable_log_is_bad_input(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str], spoil: Callable[[Path], None]
) -> None:
    """It exits 2 with one line naming the log file and what to do when the log is garbage,
    an empty file, a folder, or a database without the inference-log table."""
    path = trained_settings.inference_db
    path.parent.mkdir(parents=True, exist_ok=True)
    spoil(path)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home))
    assert result.code == 2, result.out + result.err
    assert str(path) in result.err and "move it aside" in result.err
    assert "Traceback" not in result.err


def test_a_log_from_an_older_schema_compares_the_columns_it_has(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It judges the features an older log table has and reports the one it lacks as not
    compared, instead of failing on 'no such column'."""
    log_scored(trained_settings, traffic(500, 26), 1, time.time() - 60)
    with sqlite3.connect(trained_settings.inference_db) as conn:
        conn.execute("ALTER TABLE inference_log DROP COLUMN payment_method")
    conn.close()
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home), "--json")
    assert result.code == 0, result.out + result.err
    report = json.loads(result.out)
    payment = report["features"]["payment_method"]
    assert payment["status"] == "not compared" and "inference log" in payment["reasons"][0]
    assert report["features"]["contract_type"]["status"] == "ok"


def _stats_of_wrong_shape(settings: Settings) -> None:
    path = Registry(settings).version_dir(1) / "train_stats.json"
    stats = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**stats, "categorical": [1]}), encoding="utf-8")


def _empty_reference_sample(settings: Settings) -> None:
    sample = Registry(settings).version_dir(1) / "reference.parquet"
    pd.read_parquet(sample).head(0).to_parquet(sample)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_stats_of_wrong_shape, "train_stats.json is not in the training-statistics format"),
        (_empty_reference_sample, "has no rows"),
    ],
)
def test_a_spoiled_reference_is_bad_input(
    trained_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    spoil: Callable[[Settings], None],
    message: str,
) -> None:
    """It exits 2 with one line when a version's training statistics have the wrong shape or
    its reference sample is empty, instead of a traceback or an 'ok' for every feature."""
    log_scored(trained_settings, traffic(300, 27), 1, time.time() - 60)
    spoil(trained_settings)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home))
    assert result.code == 2, result.out + result.err
    assert message in result.err and "Traceback" not in result.err


def test_a_reference_column_of_the_wrong_type_is_not_compared(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It reports a feature whose stored reference column is text instead of numbers as not
    compared, never as ok."""
    sample = Registry(trained_settings).version_dir(1) / "reference.parquet"
    frame = pd.read_parquet(sample)
    frame["tenure"] = "twelve"
    frame.to_parquet(sample)
    log_scored(trained_settings, traffic(300, 28), 1, time.time() - 60)
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home), "--json")
    assert result.code == 0, result.out + result.err
    tenure = json.loads(result.out)["features"]["tenure"]
    assert tenure["status"] == "not compared" and "not as numbers" in tenure["reasons"][0]


def test_nothing_comparable_is_bad_input(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 2 when a hand-edited feature schema leaves no feature comparable, rather than
    saying 'no drift'."""
    log_scored(trained_settings, traffic(300, 29), 1, time.time() - 60)  # logged, then edited
    registry = Registry(trained_settings)
    metadata = json.loads(registry.metadata_path.read_text(encoding="utf-8"))
    schema = metadata["versions"][0]["feature_schema"]
    swapped_numeric = [
        {"name": c["name"], "kind": "float", "min": 0, "max": 1} for c in schema["categorical"]
    ]
    swapped_categorical = [{"name": n["name"], "categories": ["a"]} for n in schema["numeric"]]
    schema.update(numeric=swapped_numeric, categorical=swapped_categorical)
    registry.metadata_path.write_text(json.dumps(metadata), encoding="utf-8")
    result = run_cli(capsys, "drift", "--home", str(trained_settings.home))
    assert result.code == 2, result.out + result.err
    assert "nothing could be compared" in result.err and "stored as" in result.err


def test_only_log_runs_update_the_gauges_report(
    trained_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It writes reports/drift_latest.json (read by the API's gauges) on a log run, and leaves
    it alone when an ad-hoc --current file is judged, even one that drifts."""
    log_scored(trained_settings, traffic(500, 30), 1, time.time() - 60)
    home = str(trained_settings.home)
    assert run_cli(capsys, "drift", "--home", home).code == 0
    latest = trained_settings.reports_dir / "drift_latest.json"
    before = latest.read_bytes()
    assert json.loads(before)["drift_detected"] is False
    batch = tmp_path / "batch.csv"
    traffic(500, 31, "contract-shift").to_csv(batch, index=False)
    adhoc = run_cli(capsys, "drift", "--home", home, "--current", str(batch), "--json")
    assert adhoc.code == 1
    assert json.loads(adhoc.out)["latest_path"] is None
    assert latest.read_bytes() == before
    assert len(list(trained_settings.reports_dir.glob("drift_2*.json"))) == 2


def test_a_bad_webhook_is_refused_up_front(
    trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 2 on a webhook URL that is not http(s), even when there is no drift."""
    log_scored(trained_settings, traffic(300, 32), 1, time.time() - 60)
    home = str(trained_settings.home)
    result = run_cli(capsys, "drift", "--home", home, "--alert-webhook", "mailto:ops@example")
    assert result.code == 2 and "--alert-webhook" in result.err
