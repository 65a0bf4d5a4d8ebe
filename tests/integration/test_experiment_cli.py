"""``churnops experiment`` through the real CLI: the API's experiment log rows are written
directly (as the API fills them), outcomes come from the generator's truth."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cli_support import (
    RunCli,
    assert_one_line_error,
    half_width,
    output_at_width,
    printed_file,
    registry_bytes,
    report_after_import,
)
from traffic_support import log_traffic

from churnops.registry.store import Registry
from churnops.settings import Settings


def run_experiment(
    settings: Settings, run_cli: RunCli, tmp_path: Path, rows: int, *start: str
) -> Any:
    """Start (v1 challenges the current version), log traffic, import outcomes, report."""
    home = settings.home
    started = run_cli("experiment", "start", "--challenger", "v1", *start, "--home", home)
    assert started.code == 0, started.err
    outcomes = tmp_path / f"outcomes_{len(list(tmp_path.iterdir()))}.csv"
    log_traffic(settings, rows, seed=8, outcomes=outcomes)
    return report_after_import(run_cli, home, outcomes)


def test_ab_then_shadow_then_promote(
    experiment_settings: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    """A/B at 50 %: the strong challenger is better (unpaired). The same customers in shadow
    mode: paired, with a narrower interval than the unpaired one on the same rows. Then stop
    --promote makes it current with the verdict in the history."""
    home = experiment_settings.home
    ab = run_experiment(experiment_settings, run_cli, tmp_path, 3_000, "--share", "50")
    assert ab["verdict"]["label"] == "challenger better"
    difference = ab["difference"]
    assert difference["paired"] is False and difference["difference"] > 0
    arms = {arm["variant"]: arm for arm in ab["arms"]}
    assert (arms["champion"]["model_version"], arms["challenger"]["model_version"]) == (2, 1)
    assert 1_200 < arms["challenger"]["predictions"] < 1_800  # about half the customers
    shown = run_cli("experiment", "report", "--home", home)
    assert "challenger better" in shown.out and "Always-valid test" in shown.out
    assert run_cli("experiment", "stop", "--home", home).code == 0

    shadow = run_experiment(experiment_settings, run_cli, tmp_path, 3_000, "--mode", "shadow")
    paired, unpaired = shadow["difference"], shadow["unpaired"]
    assert paired["paired"] is True and unpaired["paired"] is False
    assert half_width(paired) < half_width(unpaired)
    assert shadow["verdict"]["label"] == "challenger better"
    assert all(arm["predictions"] == 3_000 for arm in shadow["arms"])

    promoted = run_cli("experiment", "stop", "--promote", "--home", home, "--json")
    assert promoted.code == 0, promoted.err
    assert promoted.json()["promoted"] == 1
    verdict = promoted.json()["verdict"]  # the label a script reads, as the report gives it
    assert verdict["label"] == "challenger better"
    assert verdict["reason"] == shadow["verdict"]["reason"]
    assert promoted.json()["recorded"] == f"verdict challenger better: {verdict['reason']}"
    registry = Registry(experiment_settings)
    assert registry.read().current_version == 1 and registry.read().experiment is None
    promote = registry.history()[-1]
    assert promote.action == "promote" and "verdict challenger better" in promote.reason
    past = run_cli("experiment", "report", "--home", home, "--json").json()
    assert past["experiment"]["running"] is False and past["experiment"]["mode"] == "shadow"


def test_a_worse_challenger_is_not_promoted_without_force(
    experiment_settings: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    home = experiment_settings.home
    assert run_cli("promote", "v1", "--home", home).code == 0  # the strong one is champion
    started = run_cli("experiment", "start", "--challenger", "v2", "--share", "50", "--home", home)
    assert started.code == 0
    log_traffic(experiment_settings, 3_000, seed=9, outcomes=tmp_path / "o.csv")
    run_cli("labels", "import", tmp_path / "o.csv", "--home", home)
    before = registry_bytes(home)
    refused = run_cli("experiment", "stop", "--promote", "--home", home)
    assert_one_line_error(refused, 1, "the challenger is worse", "--force")
    assert registry_bytes(home) == before
    alone = run_cli("experiment", "stop", "--force", "--home", home)  # --force needs --promote
    assert_one_line_error(alone, 2, "--force only applies with --promote")
    assert registry_bytes(home) == before
    forced = run_cli("experiment", "stop", "--promote", "--force", "--home", home)
    assert forced.code == 0 and Registry(experiment_settings).read().current_version == 2


def test_status_and_too_few_outcomes(
    experiment_settings: Settings, run_cli: RunCli, tmp_path: Path
) -> None:
    home = experiment_settings.home
    status = run_cli("experiment", "status", "--home", home).out
    assert (
        "no experiment is running; start one with `churnops experiment start --challenger vN`"
        in status
    )
    report = run_experiment(experiment_settings, run_cli, tmp_path, 150, "--share", "50")
    assert report["verdict"]["label"] == "not enough outcomes yet"
    assert report["difference"]["status"] == "not enough outcomes yet"
    status = run_cli("experiment", "status", "--home", home)
    assert "v1 answers 50 % of customers" in status.out
    assert "verdict so far: not enough outcomes yet" in status.out
    shown = run_cli("experiment", "report", "--home", home).out.splitlines()
    verdict = next(line for line in shown if line.startswith("verdict: "))
    assert verdict.count("not enough") == 1, verdict  # the reason already says the label
    # what the arms' 'n/a' and churned/stayed counts mean, worded as performance words it
    legend = "n/a: not enough outcomes yet (churned/stayed shown; at least 50 of each are needed"
    assert legend in re.sub(r"\s+", " ", " ".join(shown))
    stopped = run_cli("experiment", "stop", "--home", home, "--json")
    assert stopped.code == 0, stopped.err
    assert stopped.json()["verdict"]["label"] == "not enough outcomes yet"
    assert stopped.json()["verdict"]["reason"] == report["verdict"]["reason"]
    stop = Registry(experiment_settings).history()[-1]  # the verdict's words said once
    assert stop.action == "experiment_stop" and stop.reason.count("not enough outcomes yet") == 1


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("start", "--challenger", "v9"), 2, "there is no model version v9"),
        (("start", "--challenger", "v2"), 2, "v2 is the champion"),
        (("start", "--challenger", "v1", "--share", "150"), 2, "between 0.01 and 99.99"),
        (("start", "--challenger", "v1", "--share", "0"), 2, "between 0.01 and 99.99"),
        (("start", "--challenger", "v1", "--mode", "shadow", "--share", "5"), 2, "no share"),
        (("start", "--challenger", "banana"), 2, "'banana' is not a model version"),
        (("stop",), 1, "nothing to stop; start one with `churnops experiment start"),
        (("report",), 2, "no experiment has been started yet"),
    ],
)
def test_bad_input(
    experiment_settings: Settings,
    run_cli: RunCli,
    args: tuple[str, ...],
    code: int,
    words: str,
) -> None:
    home = experiment_settings.home
    before = registry_bytes(home)
    assert_one_line_error(run_cli("experiment", *args, "--home", home), code, words)
    assert registry_bytes(home) == before


def test_a_second_experiment_and_an_unknown_id(
    experiment_settings: Settings, run_cli: RunCli
) -> None:
    home = experiment_settings.home
    assert run_cli("experiment", "start", "--challenger", "v1", "--home", home).code == 0
    before = registry_bytes(home)
    second = run_cli("experiment", "start", "--challenger", "v1", "--home", home)
    assert_one_line_error(second, 1, "is already running", "one experiment at a time")
    for command in (("promote", "v1"), ("rollback",)):
        assert_one_line_error(run_cli(*command, "--home", home), 1, "stop it first")
    assert registry_bytes(home) == before
    unknown = run_cli("experiment", "report", "--id", "exp999", "--home", home)
    assert_one_line_error(unknown, 2, "there is no experiment exp999")


@pytest.mark.parametrize("columns", [80, 100])
def test_no_line_break_inside_a_command_or_a_p_value(
    experiment_settings: Settings, run_cli: RunCli, tmp_path: Path, columns: int
) -> None:
    """At 80 and 100 columns, start's hint names `churnops experiment report` on one line, and
    the report prints each difference's "p = …" unbroken (a shadow run's p-value, as long as
    2.6e-83, fell at the edge of 100 columns), and its file's path too."""
    home = experiment_settings.home
    start = ("experiment", "start", "--challenger", "v1", "--mode", "shadow", "--home", home)
    assert "Read `churnops experiment report` as" in output_at_width(columns, *start)
    log_traffic(experiment_settings, 3_000, seed=8, outcomes=tmp_path / "o.csv")
    found = report_after_import(run_cli, home, tmp_path / "o.csv")
    shown = output_at_width(columns, "experiment", "report", "--home", home)
    for difference in (found["difference"], found["unpaired"]):
        assert f"p = {difference['p_value']:.2g}, one look" in shown, shown
    assert printed_file(shown, "report").parent == experiment_settings.reports_dir
