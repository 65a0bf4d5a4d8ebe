"""``churnops experiment start / status / stop / report``: a challenger against the champion."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, NamedTuple

import typer

from churnops.cli.ui import (
    HomeOpt,
    JsonOpt,
    console,
    err_console,
    print_json,
    print_path,
    settings_for,
)
from churnops.errors import BadInputError, CheckFailedError
from churnops.registry.entries import ExperimentMode, parse_version
from churnops.registry.store import open_registry

if TYPE_CHECKING:
    from churnops.experiments.results import ExperimentReport, VerdictResult
    from churnops.settings import Settings

experiment_app = typer.Typer(
    help="Test a challenger version against the champion on live traffic (A/B) or silently "
    "beside it (shadow), judged on true outcomes.",
    no_args_is_help=True,
)
IdOpt = Annotated[
    str | None,
    typer.Option("--id", help="Which experiment, e.g. exp12 [default: the running or latest]"),
]


class Mode(StrEnum):
    ab = "ab"
    shadow = "shadow"


@experiment_app.command("start")
def start(
    challenger: Annotated[str, typer.Option("--challenger", help="The version to test, e.g. v3")],
    mode: Annotated[
        Mode,
        typer.Option(
            "--mode",
            help="ab: it answers a share of customers; shadow: it "
            "scores every request, the champion answers",
        ),
    ] = Mode.ab,
    share: Annotated[
        float | None,
        typer.Option("--share", help="A/B: percent of customers it answers, in (0, 100) [10]"),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the history")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start an experiment after verifying the challenger (files, load, smoke prediction); the
    API follows it like a promotion (registry poll, or POST /admin/reload)."""
    from churnops.registry.experiments import start_experiment

    settings = settings_for(home)
    chosen: ExperimentMode = "shadow" if mode is Mode.shadow else "ab"
    experiment = start_experiment(settings, parse_version(challenger), chosen, share, reason)
    if as_json:
        print_json(experiment.model_dump(mode="json"))
        return
    console.print(
        f"[green]started {experiment.id}[/]: {experiment.describe()}; the API follows within "
        f"{settings.poll_interval:g} s. Read `churnops experiment report` as outcomes arrive.",
        highlight=False,
        soft_wrap=True,  # never a line break inside the command
    )


def _report(settings: Settings, wanted: str | None) -> ExperimentReport:
    from churnops.experiments.report import experiment_report

    return experiment_report(settings, wanted)


@experiment_app.command("status")
def status(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """The running experiment, its predictions and outcomes per arm, and today's verdict."""
    from churnops.registry.experiments import START_HINT

    settings = settings_for(home)
    running = open_registry(settings).read_synced().experiment
    if running is None:
        if as_json:
            print_json({"running": None})
        else:
            hint = f"no experiment is running; start one with {START_HINT}"
            console.print(hint, soft_wrap=True)  # never a line break inside the command
        return
    report = _report(settings, running.id)
    if as_json:
        print_json({"running": running.model_dump(mode="json"), "report": report.to_json()})
        return
    console.print(
        f"{running.id}: {running.describe()}; started {running.started_at} by {running.started_by}",
        highlight=False,
    )
    for arm in report.arms:
        console.print(
            f"  {arm.variant} v{arm.model_version}: {arm.predictions:,} predictions, "
            f"{arm.labelled:,} with an outcome",
            highlight=False,
        )
    console.print(f"verdict so far: {report.verdict.label}", highlight=False)


@experiment_app.command("report")
def report(wanted: IdOpt = None, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Per arm: predictions, outcomes, realised AUC with its interval, precision, recall, F1,
    Brier; the difference (unpaired for A/B, paired for shadow) and the verdict with its rule.
    Written to reports/experiment_<id>_<time>.json too."""
    from churnops.atomic import atomic_write_json
    from churnops.experiments.terminal import print_experiment
    from churnops.monitoring.report import stamped_path

    settings = settings_for(home)
    found = _report(settings, wanted)
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    path = stamped_path(settings.reports_dir, f"experiment_{found.experiment.id}", ".json")
    atomic_write_json(path, found.to_json())
    if as_json:
        print_json({**found.to_json(), "report_path": str(path)})
        return
    print_experiment(console, found)
    print_path("report", path)


class StopVerdict(NamedTuple):
    """What a stop records: the report's verdict (None when there is no report), its words for
    the history, and the experiment it is about."""

    verdict: VerdictResult | None
    words: str
    experiment_id: str


def _verdict_for_stop(settings: Settings, promote: bool, force: bool) -> StopVerdict:
    """The verdict, its words to record, and the experiment. Promoting needs the report; a
    plain stop records why there is none rather than keep traffic on an experiment."""
    from churnops.registry.experiments import experiment_to_stop

    running = experiment_to_stop(open_registry(settings).read().experiment)
    try:
        found = _report(settings, running.id)
    except BadInputError as exc:
        if promote:
            raise
        return StopVerdict(None, f"no verdict: {exc}", running.id)
    verdict = found.verdict
    if promote and verdict.label == "challenger worse" and not force:
        raise CheckFailedError(
            f"the report says the challenger is worse ({verdict.reason}); promote it anyway "
            "with --force, or stop without --promote; nothing was changed"
        )
    return StopVerdict(verdict, f"verdict {verdict.words()}", running.id)


@experiment_app.command("stop")
def stop(
    promote: Annotated[
        bool, typer.Option("--promote", help="Make the challenger current (verified first)")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="With --promote: promote even when the verdict is 'challenger worse'"
        ),
    ] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop the experiment, recording its verdict in the history: all traffic goes back to the
    champion, or with --promote the challenger becomes current."""
    from churnops.registry.experiments import stop_experiment

    if force and not promote:
        raise BadInputError(
            "--force only applies with --promote (promote even when the challenger is worse); "
            "add --promote, or drop --force to stop without promoting"
        )
    settings = settings_for(home)
    judged = _verdict_for_stop(settings, promote, force)
    stopped = stop_experiment(settings, promote, judged.words, judged.experiment_id)
    experiment = stopped.experiment
    if as_json:
        print_json(
            {
                "stopped": experiment.id,
                "promoted": stopped.promoted.version if stopped.promoted else None,
                # as `experiment report --json` gives it (label, reason, rule…); None: no report
                "verdict": judged.verdict.model_dump(mode="json") if judged.verdict else None,
                "recorded": judged.words,  # the verdict's words in the history
            }
        )
        return
    after = (
        f"v{experiment.challenger} is now current"
        if stopped.promoted
        else f"all traffic back to v{experiment.champion}"
    )
    console.print(f"[green]stopped {experiment.id}[/]: {after}", highlight=False)
    err_console.print(f"recorded in the history: {judged.words}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(experiment_app, name="experiment")
