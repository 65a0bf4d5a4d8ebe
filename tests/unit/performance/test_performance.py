"""``churnops performance`` on a real log, real outcomes and the real registry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from cli_support import RunCli, assert_one_line_error, output_at_width, printed_file
from rich.console import Console
from traffic_support import log_traffic

from churnops.performance.results import NOT_ENOUGH, PerformanceReport
from churnops.performance.terminal import print_performance
from churnops.settings import Settings, load_settings
from churnops.statistics.defaults import DEFAULT_MIN_PER_CLASS
from churnops.statistics.outcomes import NOT_ENOUGH as STATISTICS_NOT_ENOUGH

DAY = 86_400.0


def traffic(settings: Settings, tmp_path: Path, rows: int, flip: bool = False) -> Path:
    """``rows`` predictions by v1 over the last three days, and their true outcomes (or the
    opposite of them, for a model that has gone wrong)."""
    path = tmp_path / "outcomes.csv"
    log_traffic(
        settings, rows, seed=5, outcomes=path, start=pd.Timestamp.now().timestamp() - 3 * DAY
    )
    if flip:
        outcomes = pd.read_csv(path)
        outcomes.assign(outcome=1 - outcomes["outcome"]).to_csv(path, index=False)
    return path


def test_the_defaults_agree_with_the_statistics() -> None:
    """Two constants kept apart only so light modules need not load scipy."""
    assert load_settings().performance_min_per_class == DEFAULT_MIN_PER_CLASS
    assert NOT_ENOUGH == STATISTICS_NOT_ENOUGH


def test_a_healthy_version_over_time(
    trained_settings: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    """Realised AUC near the hold-out AUC, per day and overall; no finding (exit 0); the
    timestamped and latest reports are written and read back."""
    home = trained_settings.home
    run_cli("labels", "import", traffic(trained_settings, tmp_path, 3_000), "--home", home)
    found = run_cli("performance", "--home", home, "--chunk", "1000", "--json")
    assert found.code == 0, found.err
    report = found.json()
    [v1] = report["versions"]
    assert v1["model_version"] == 1 and v1["degraded"] is False and v1["coverage"] == 1.0
    realised = v1["realised"]
    assert realised["status"] == "estimated" and realised["outcomes"] == 3_000
    assert realised["auc"]["lower"] < realised["auc"]["auc"] < realised["auc"]["upper"]
    assert abs(realised["auc"]["auc"] - v1["holdout"]["roc_auc"]) < 0.05
    assert "DeLong" in realised["auc"]["method"]
    assert [p["predictions"] for p in v1["periods"]] == [1_000, 1_000, 1_000]
    latest = trained_settings.reports_dir / "performance_latest.json"
    assert PerformanceReport.from_json(latest.read_bytes()).versions[0].model_version == 1
    assert Path(report["report_path"]).exists()


def test_too_few_outcomes_show_no_number(
    trained_settings: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    """Below the minimum per class: 'not enough outcomes yet', no metric anywhere (JSON,
    terminal), and no finding."""
    home = trained_settings.home
    run_cli("labels", "import", traffic(trained_settings, tmp_path, 120), "--home", home)
    found = run_cli("performance", "--home", home, "--json")
    assert found.code == 0
    [v1] = found.json()["versions"]
    assert v1["realised"]["status"] == "not enough outcomes yet"
    assert "auc" not in v1["realised"] and v1["degraded"] is None
    assert "at least 50 of each are needed" in v1["realised"]["reason"]
    shown = run_cli("performance", "--home", home)
    assert "n/a" in shown.out and "not enough outcomes yet" in shown.out
    assert not re.search(r"\b0\.[0-9]{3}\b", shown.out.split("hold-out")[0])


def test_a_degraded_version_is_a_finding(
    trained_settings: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    """Outcomes the model gets backwards: the realised interval lies far below the hold-out
    AUC → degraded, named, exit 1, and the API's gauge says so."""
    home = trained_settings.home
    run_cli(
        "labels", "import", traffic(trained_settings, tmp_path, 2_000, flip=True), "--home", home
    )
    found = run_cli("performance", "--home", home)
    assert found.code == 1
    assert "PERFORMANCE DEGRADED" in found.out
    assert "below its hold-out AUC" in found.out
    from fastapi.testclient import TestClient

    from churnops.serving.app import create_app

    with TestClient(create_app(trained_settings)) as client:
        metrics = client.get("/metrics").text
    assert 'churnops_performance_degraded{model_version="1"} 1.0' in metrics
    assert re.search(r'churnops_realised_auc\{model_version="1"\} 0\.[0-3]', metrics)


def test_pooled_and_tolerated_drop(
    trained_settings: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    """--by all pools every version (no hold-out to compare with); a larger tolerated drop
    turns the finding off."""
    home = trained_settings.home
    run_cli(
        "labels", "import", traffic(trained_settings, tmp_path, 2_000, flip=True), "--home", home
    )
    pooled = run_cli("performance", "--home", home, "--by", "all", "--json")
    assert pooled.code == 0
    [every] = pooled.json()["versions"]
    assert every["model_version"] is None and every["holdout"] is None
    assert run_cli("performance", "--home", home, "--max-drop", "0.9").code == 0


def test_terminal_fits_80_columns_and_html_is_offline(
    trained_settings: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    home = trained_settings.home
    run_cli("labels", "import", traffic(trained_settings, tmp_path, 1_500), "--home", home)
    found = run_cli("performance", "--home", home, "--chunk", "1d", "--html", "--json")
    report = PerformanceReport.model_validate(found.json())
    console = Console(width=80, record=True, force_terminal=False)
    print_performance(console, report, explain=True)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    html = Path(found.json()["html_path"]).read_text(encoding="utf-8")
    assert "<svg" in html and "realised AUC" in html
    assert not re.search(r"(src|href)=\"https?:", html) and "<script" not in html


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), "logs/inference.sqlite does not exist yet: start the API (`churnops serve`)"),
        (("--last", "5000"), "--last takes a duration here (30d, 12w); '5000' is not one"),
        (("--last", "lots"), "--last takes a duration here (30d, 12w); 'lots' is not one"),
        (("--last", "0d"), "--last '0d' must be a duration longer than zero"),
        (("--since", "2d", "--last", "1d"), "give either --since or a --last duration"),
        (("--chunk", "soon"), "--chunk 'soon'"),
        (("--chunk", "1"), "use --chunk 100 or more"),  # never 50 churned and 50 retained
        (("--chunk", "119", "--min-per-class", "60"), "use --chunk 120 or more"),
        (("--min-per-class", "1"), "performance_min_per_class"),
    ],
)
def test_bad_input(
    trained_settings: Settings, run_cli: RunCli, args: tuple[str, ...], words: str
) -> None:
    found = run_cli("performance", "--home", trained_settings.home, *args)
    assert_one_line_error(found, 2, words)
    assert not (trained_settings.reports_dir / "performance_latest.json").exists()


@pytest.mark.parametrize("columns", [80, 100])
def test_the_note_without_outcomes_never_breaks_its_command(
    trained_settings: Settings, tmp_path: Path, columns: int
) -> None:
    """Predictions without outcomes: the note names `churnops labels import FILE` on one line
    (at 100 columns it broke before FILE); the report's and the page's paths are whole lines,
    never broken (they broke at 80 and 100 columns)."""
    traffic(trained_settings, tmp_path, 100)
    shown = output_at_width(columns, "performance", "--home", trained_settings.home, "--html")
    assert "`churnops labels import FILE`" in shown, shown
    assert printed_file(shown, "report").parent == trained_settings.reports_dir
    assert printed_file(shown, "html").suffix == ".html"


def test_an_empty_window_of_a_log(
    trained_settings: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    traffic(trained_settings, tmp_path, 100)  # three days ago
    found = run_cli("performance", "--home", trained_settings.home, "--last", "1d")
    assert_one_line_error(found, 2, "no prediction was logged in this window (since ")


@pytest.mark.parametrize("command", [("performance",), ("drift",), ("logs", "export", "-o", "x")])
def test_no_log_yet_is_worded_as_logs_export_words_it(
    trained_settings: Settings, run_cli: RunCli, command: tuple[str, ...]
) -> None:
    """Before the API logged anything, performance and drift say what logs export says (then
    what else they can read), not that the window of a log is empty."""
    found = run_cli(*command, "--home", trained_settings.home)
    missing = (
        f"error: {trained_settings.log_location} does not exist yet: start the API "
        "(`churnops serve`) and send it predictions first"
    )
    assert_one_line_error(found, 2)
    assert found.err.strip().startswith(missing), found.err  # older rich: a blank line first


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("10", "CHURNOPS_PERFORMANCE_CHUNK 10 is too small"),
        ("0d", "CHURNOPS_PERFORMANCE_CHUNK '0d' must be a duration longer than zero"),
        ("soon", "CHURNOPS_PERFORMANCE_CHUNK 'soon' is not auto"),
    ],
)
def test_a_bad_chunk_from_the_environment_names_its_variable(
    trained_settings: Settings,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    words: str,
) -> None:
    """Set by CHURNOPS_PERFORMANCE_CHUNK, the periods are not blamed on a --chunk never given."""
    monkeypatch.setenv("CHURNOPS_PERFORMANCE_CHUNK", value)
    found = run_cli("performance", "--home", trained_settings.home)
    assert_one_line_error(found, 2, words)
    assert not re.search(rf"--chunk '?{value}\b", found.err)  # "use --chunk 100" is advice


def test_the_report_reads_back(trained_settings: Settings, run_cli: RunCli, tmp_path: Path) -> None:
    home = trained_settings.home
    run_cli("labels", "import", traffic(trained_settings, tmp_path, 500), "--home", home)
    found = run_cli("performance", "--home", home, "--json")
    path = Path(found.json()["report_path"])
    assert PerformanceReport.from_json(path.read_bytes()).to_json() == json.loads(path.read_text())


def test_gauges_show_no_realised_number_without_enough_outcomes(
    trained_settings: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    """With too few outcomes the API exposes coverage and counts, never a realised metric."""
    from churnops.serving.performance_metrics import performance_families

    home = trained_settings.home
    run_cli("labels", "import", traffic(trained_settings, tmp_path, 100), "--home", home)
    run_cli("performance", "--home", home)
    latest = trained_settings.reports_dir / "performance_latest.json"
    samples = {
        family.name: [sample.value for sample in family.samples]
        for family in performance_families(latest.read_bytes())
    }
    assert samples["churnops_outcome_coverage"] == [1.0]
    assert samples["churnops_outcomes_measured"] == [0]
    assert samples["churnops_realised_auc"] == [] and samples["churnops_performance_degraded"] == []
