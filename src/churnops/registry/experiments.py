"""Starting and stopping an experiment: registry commits, like promote and rollback.

One experiment at a time. The champion is the current version; the challenger must be
registered, not rejected by the promotion gate, take the same features as the champion, and
pass the same verification as a promotion (SHA-256 of both files, load, smoke prediction)
before the experiment is written — so the API never routes a request to a model that cannot
serve. The experiment's id comes from its start event's sequence number, so it is never reused.
While it runs, nothing may change the current version (promote, rollback, a training that
would register one): the champion would change under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from churnops.errors import BadInputError, CheckFailedError
from churnops.experiments.assignment import share_buckets
from churnops.registry.entries import Experiment, ExperimentMode, ModelVersion, utc_now
from churnops.registry.promotion import make_current, verify
from churnops.registry.store import Registry, current_user, open_registry
from churnops.schema import FeatureSchema
from churnops.settings import Settings

DEFAULT_SHARE = 10.0
START_HINT = "`churnops experiment start --challenger vN`"  # how to start one, in messages


@dataclass(frozen=True)
class Stopped:
    experiment: Experiment
    promoted: ModelVersion | None  # the challenger, when it was made current


def _check_share(mode: ExperimentMode, share: float | None) -> float | None:
    if mode == "shadow":
        if share is not None:
            raise BadInputError(
                "a shadow experiment has no share: the champion answers every request and the "
                "challenger scores them all; drop --share, or use --mode ab"
            )
        return None
    share = DEFAULT_SHARE if share is None else share
    share_buckets(share)  # refuses a share outside (0, 100) with a clear message
    return share


def _check_challenger(registry: Registry, champion: ModelVersion, entry: ModelVersion) -> None:
    if entry.version == champion.version:
        raise BadInputError(
            f"{entry.name} is the champion (the current version); name another version as "
            "the challenger"
        )
    if entry.status == "rejected":
        raise CheckFailedError(
            f"{entry.name} was rejected by the promotion gate ({entry.gate.get('failure')}), "
            "so it cannot challenge the champion; train a better version"
        )
    ours = FeatureSchema.model_validate(entry.feature_schema).encoded_names
    theirs = FeatureSchema.model_validate(champion.feature_schema).encoded_names
    if ours != theirs:
        raise CheckFailedError(
            f"{entry.name} takes other features than the champion {champion.name} ({ours} vs "
            f"{theirs}); both arms must score the same requests"
        )
    verify(registry, entry)


def start_experiment(
    settings: Settings,
    challenger: int,
    mode: ExperimentMode = "ab",
    share: float | None = None,
    reason: str | None = None,
) -> Experiment:
    """Check everything, then record the experiment in one registry commit."""
    share = _check_share(mode, share)
    registry = open_registry(settings)
    with registry.transaction() as state:
        running = state.experiment
        if running is not None:
            raise CheckFailedError(
                f"experiment {running.id} is already running ({running.describe()}); one "
                "experiment at a time: stop it first with `churnops experiment stop`"
            )
        champion = state.current
        if champion is None:
            raise BadInputError("no version is current, so there is no champion; train one first")
        entry = registry.require(state, challenger)
        _check_challenger(registry, champion, entry)
        experiment = Experiment(
            id=f"exp{registry.next_seq(state)}",
            mode=mode,
            champion=champion.version,
            challenger=entry.version,
            share=share,
            started_at=utc_now(),
            started_by=current_user(),
        )
        state.experiment = experiment
        why = f" ({reason})" if reason else ""
        registry.commit(
            state,
            "experiment_start",
            champion.version,
            entry.version,
            f"{experiment.id} started: {experiment.describe()}{why}",
        )
    return experiment


def experiment_to_stop(running: Experiment | None) -> Experiment:
    """The running experiment; stopping when none runs is refused by the registry's state
    (exit 1, like starting a second one)."""
    if running is None:
        raise CheckFailedError(
            f"no experiment is running, so there is nothing to stop; start one with {START_HINT}"
        )
    return running


def stop_experiment(
    settings: Settings,
    promote: bool,
    verdict: str,
    expected_id: str | None = None,
) -> Stopped:
    """End the running experiment (all traffic back to the champion), recording ``verdict``
    (the report's, in words); with ``promote`` the challenger is then made current through
    the verified promotion path. Verification comes first: a challenger that fails it leaves
    the experiment running and the registry unchanged."""
    registry = open_registry(settings)
    with registry.transaction() as state:
        experiment = experiment_to_stop(state.experiment)
        if expected_id is not None and experiment.id != expected_id:
            raise CheckFailedError(
                f"experiment {expected_id} was replaced by {experiment.id} meanwhile; run the "
                "command again"
            )
        challenger = registry.require(state, experiment.challenger)
        if promote:
            verify(registry, challenger)
        state.experiment = None
        after = (
            f"promoting v{experiment.challenger}"
            if promote
            else (f"all traffic back to v{experiment.champion}")
        )
        registry.commit(
            state,
            "experiment_stop",
            experiment.champion,
            experiment.challenger,
            f"{experiment.id} stopped ({verdict}); {after}",
        )
        if not promote:
            return Stopped(experiment, None)
        make_current(
            registry,
            state,
            challenger,
            "promote",
            f"challenger of experiment {experiment.id}: {verdict}",
        )
    return Stopped(experiment, challenger)
