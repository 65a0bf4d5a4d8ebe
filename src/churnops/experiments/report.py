"""``churnops experiment report``: champion against challenger on the outcomes so far.

The experiment's predictions are the inference-log rows with its id; outcomes join them by
the outcome store's rule, and each outcome is measured once per arm, on the latest
prediction it labels (``churnops.performance.measure``). A/B: the arms are the customers each
variant answered — independent samples, so the difference is unpaired. Shadow: every row
carries both scores (the champion's answer, the challenger's shadow score), so the arms are
the same customers and the difference is paired; the unpaired difference on the same rows is
shown beside it. The verdict is the always-valid rule of ``churnops.statistics.sequential``:
reading the report every day does not raise the chance of a wrong verdict.
"""

from __future__ import annotations

import pandas as pd

from churnops.errors import BadInputError
from churnops.experiments.results import (
    Arm,
    Compared,
    Difference,
    ExperimentInfo,
    ExperimentReport,
    Variant,
    VerdictResult,
)
from churnops.outcomes.store import describe_join, open_outcome_store
from churnops.performance.measure import measure, not_enough, one_per_outcome
from churnops.registry.entries import SHADOW_WORDS, HistoryEvent, RegistryFile, utc_now
from churnops.registry.experiments import START_HINT
from churnops.registry.store import open_registry
from churnops.settings import Settings
from churnops.statistics import (
    AucDifference,
    Comparison,
    NotEnoughOutcomes,
    VerdictRule,
    compare_ab,
    compare_shadow,
    unpaired_auc_difference,
)

FIELDS = (
    "ts",
    "model_version",
    "probability",
    "variant",
    "variant_random",
    "shadow_version",
    "shadow_probability",
)


def _started(events: list[HistoryEvent]) -> dict[str, HistoryEvent]:
    return {f"exp{e.seq}": e for e in events if e.action == "experiment_start"}


def find_experiment(
    state: RegistryFile, events: list[HistoryEvent], wanted: str | None
) -> ExperimentInfo:
    """The running experiment, or the one named ``wanted``, or else the latest started."""
    running = state.experiment
    if running is not None and wanted in (None, running.id):
        return ExperimentInfo(**running.model_dump(exclude={"started_by"}), running=True)
    started = _started(events)
    if not started:
        raise BadInputError(f"no experiment has been started yet: {START_HINT}")
    key = wanted if wanted is not None else list(started)[-1]
    event = started.get(key)
    if event is None or event.from_version is None or event.to_version is None:
        raise BadInputError(f"there is no experiment {key}; started: {', '.join(started)}")
    shadow = SHADOW_WORDS in event.reason  # the start event says how it ran
    return ExperimentInfo(
        id=key,
        mode="shadow" if shadow else "ab",
        champion=event.from_version,
        challenger=event.to_version,
        share=None,
        started_at=event.time,
        running=False,
    )


def _difference(found: AucDifference | NotEnoughOutcomes) -> Compared:
    if isinstance(found, NotEnoughOutcomes):
        return not_enough(found)
    return Difference.model_validate(found, from_attributes=True)


def _arm(
    frame: pd.DataFrame,
    scores: str,
    variant: Variant,
    version: int,
    threshold: float,
    rule: VerdictRule,
) -> Arm:
    measured = frame[frame["measured"]]
    labelled = int(frame["outcome_id"].notna().sum())
    return Arm(
        variant=variant,
        model_version=version,
        predictions=len(frame),
        labelled=labelled,
        coverage=labelled / len(frame) if len(frame) else 0.0,
        realised=measure(
            measured["outcome"], measured[scores], threshold, 1 - rule.alpha, rule.min_per_class
        ),
    )


def _answered_by(frame: pd.DataFrame, variant: Variant) -> pd.DataFrame:
    part = frame[frame["variant"] == variant]
    return part.assign(measured=one_per_outcome(part))


def _ab(
    frame: pd.DataFrame, info: ExperimentInfo, thresholds: tuple[float, float], rule: VerdictRule
) -> tuple[list[Arm], Comparison, list[str]]:
    """Each arm: the customers its variant answered (independent samples)."""
    champion = _answered_by(frame, "champion")
    challenger = _answered_by(frame, "challenger")
    arms = [
        _arm(champion, "probability", "champion", info.champion, thresholds[0], rule),
        _arm(challenger, "probability", "challenger", info.challenger, thresholds[1], rule),
    ]
    a, b = champion[champion["measured"]], challenger[challenger["measured"]]
    comparison = compare_ab(
        a["outcome"].to_numpy(int),
        a["probability"].to_numpy(float),
        b["outcome"].to_numpy(int),
        b["probability"].to_numpy(float),
        rule,
    )
    notes = []
    randomly = int((frame["variant_random"] == 1).sum())
    if randomly:
        notes.append(
            f"{randomly:,} prediction(s) had no customer id and were assigned at random: they "
            "count in their arm, but the same caller may have met both variants"
        )
    return arms, comparison, notes


def _shadow(
    frame: pd.DataFrame, info: ExperimentInfo, thresholds: tuple[float, float], rule: VerdictRule
) -> tuple[list[Arm], Comparison, list[str]]:
    """Both arms: the same rows, answered by the champion and scored in shadow by the
    challenger (rows the challenger did not score are left out)."""
    notes = []
    scored = frame[frame["shadow_probability"].notna()]
    if len(scored) < len(frame):
        notes.append(
            f"{len(frame) - len(scored):,} prediction(s) have no shadow score from the "
            "challenger: left out of both arms"
        )
    scored = scored.assign(measured=one_per_outcome(scored))
    arms = [
        _arm(scored, "probability", "champion", info.champion, thresholds[0], rule),
        _arm(scored, "shadow_probability", "challenger", info.challenger, thresholds[1], rule),
    ]
    measured = scored[scored["measured"]]
    comparison = compare_shadow(
        measured["outcome"].to_numpy(int),
        measured["probability"].to_numpy(float),
        measured["shadow_probability"].to_numpy(float),
        rule,
    )
    return arms, comparison, notes


def experiment_report(settings: Settings, wanted: str | None = None) -> ExperimentReport:
    """The report of the running experiment (or ``wanted``, or the latest one)."""
    registry = open_registry(settings)
    state = registry.read()
    info = find_experiment(state, registry.history(), wanted)
    thresholds = (
        registry.require(state, info.champion).threshold,
        registry.require(state, info.challenger).threshold,
    )
    rule = VerdictRule(min_per_class=settings.performance_min_per_class)
    store = open_outcome_store(settings.log_location, settings.outcome_window_days)
    frame = store.predictions(FIELDS, experiment_id=info.id).sort_values("ts", kind="stable")
    build = _shadow if info.mode == "shadow" else _ab
    arms, comparison, notes = build(frame, info, thresholds, rule)
    if frame.empty:
        notes.append(
            f"no prediction of experiment {info.id} is in the inference log yet: the API logs "
            "each answer with the experiment's id once it follows the experiment"
        )
    unpaired = None
    if info.mode == "shadow":
        level = 1 - rule.alpha
        unpaired = _difference(
            unpaired_auc_difference(comparison.champion, comparison.challenger, level)
        )
    return ExperimentReport(
        generated_at=utc_now(),
        experiment=info,
        arms=arms,
        difference=_difference(comparison.difference),
        unpaired=unpaired,
        verdict=VerdictResult.model_validate(comparison.verdict, from_attributes=True),
        join_rule=describe_join(settings.outcome_window_days),
        notes=notes,
    )
