"""Experiment routing: which version answers a request, and what its answer and log row say.

The predictor publishes a ``Serving`` — the champion and, while the registry runs an
experiment the API could apply, a ``RunningExperiment`` holding the verified challenger — in
one reference, so a request that reads it once uses a consistent pair.

A/B: the ``Assigner`` puts each customer id in a stable bucket (a keyed hash: the same in
every worker and after a restart, no per-process state); rows without a customer id are drawn
at random and marked. Shadow: the champion answers every row; the challenger scores the same
encoded rows in the inference-log writer's thread, batched before the insert (see
``inference_log.ShadowJob``), so its score is logged and never returned.

The four possible A/B routes (champion or challenger, stable or random) and the shadow route
are built once per experiment: routing a row is a hash and a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from churnops.experiments.assignment import (
    CHALLENGER,
    CHAMPION,
    RANDOM_CHALLENGER,
    RANDOM_CHAMPION,
    Assigner,
    Assignment,
    Variant,
)
from churnops.registry.entries import Experiment
from churnops.serving.inference_log import NO_EXPERIMENT, ShadowJob

if TYPE_CHECKING:
    from churnops.serving.predictor import LoadedModel

VARIANT_HEADER = "x-churnops-variant"
VERSION_HEADER = "x-churnops-model-version"
# response headers as the server sends them: encoded once, not on every answer
RawHeaders = tuple[tuple[bytes, bytes], ...]


def raw_headers(headers: Mapping[str, str]) -> RawHeaders:
    """``headers`` as ``Response`` would encode them: names in lower case (ASGI), latin-1."""
    return tuple(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    )


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per route
class Route:
    """Who answers a row of an experiment, and what the answer and the log row carry."""

    model: LoadedModel
    variant: Variant
    random: bool
    log_marks: tuple[Any, ...]  # the values of ``logstore.EXPERIMENT_COLUMNS``
    shadow: LoadedModel | None  # shadow mode: the challenger, which scores the row aside
    fields: dict[str, Any]  # added to the answer's body
    headers: RawHeaders
    # its predictions counter's labels (experiment id, variant, version): counted by these, not
    # by the route, so a stopped experiment's models are not kept alive by the metrics
    counted: tuple[str, str, str]


def _route(
    experiment: Experiment, model: LoadedModel, assignment: Assignment, shadow: LoadedModel | None
) -> Route:
    variant = assignment.variant
    shadow_version = None if shadow is None else shadow.version
    return Route(
        model=model,
        variant=variant,
        random=assignment.random,
        log_marks=(variant, int(assignment.random), experiment.id, shadow_version, None),
        shadow=shadow,
        fields={
            "variant": variant,
            "variant_random": assignment.random,
            "experiment_id": experiment.id,
        },
        headers=raw_headers({VARIANT_HEADER: variant, VERSION_HEADER: str(model.version)}),
        counted=(experiment.id, variant, str(model.version)),
    )


@dataclass(frozen=True)
class RunningExperiment:
    """An experiment the API applies: its registry record and the verified challenger."""

    experiment: Experiment
    champion: LoadedModel
    challenger: LoadedModel
    _routes: dict[Assignment, Route] = field(init=False, repr=False, compare=False)
    # A/B: the assigner's ``assign``, bound once (no attribute lookup per request)
    _assign: Callable[[str | None], Assignment] | None = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        experiment = self.experiment
        models = {"champion": self.champion, "challenger": self.challenger}
        shadow = self.challenger if experiment.mode == "shadow" else None
        routes = {
            assignment: _route(experiment, models[assignment.variant], assignment, shadow)
            for assignment in (CHAMPION, CHALLENGER, RANDOM_CHAMPION, RANDOM_CHALLENGER)
        }
        assign = None
        if experiment.share is not None:
            assign = Assigner(experiment.id, experiment.share).assign
        object.__setattr__(self, "_routes", routes)
        object.__setattr__(self, "_assign", assign)

    @property
    def shadow(self) -> bool:
        return self._assign is None

    def route(self, customer_id: str | None) -> Route:
        """A/B: the customer's variant; shadow: the champion (the challenger scores aside)."""
        assign = self._assign
        if assign is None:
            return self._routes[CHAMPION]
        return self._routes[assign(customer_id)]


@dataclass(frozen=True)
class Serving:
    """What the API serves, published in one reference: never a champion of one registry
    state with a challenger of another."""

    champion: LoadedModel
    experiment: RunningExperiment | None = None


def shadow_job(route: Route | None, matrix: np.ndarray) -> ShadowJob | None:
    """In shadow mode, the challenger's scoring of ``matrix`` (done by the log writer)."""
    if route is None or route.shadow is None:
        return None
    return ShadowJob(route.shadow, matrix)


@dataclass(frozen=True)
class Part:
    """The rows of a batch one route answered (all rows, outside A/B)."""

    route: Route | None  # None: no experiment
    model: LoadedModel
    positions: list[int]  # in the batch's valid rows
    scores: np.ndarray
    whole: bool  # the part is the whole batch, in order

    @property
    def version(self) -> int:
        return self.model.version

    @property
    def probabilities(self) -> list[float]:
        values: list[float] = self.scores.tolist()
        return values

    @property
    def decisions(self) -> list[bool]:
        values: list[bool] = (self.scores >= self.model.threshold).tolist()
        return values

    @property
    def log_marks(self) -> tuple[Any, ...]:
        return NO_EXPERIMENT if self.route is None else self.route.log_marks

    def columns(self, columns: Mapping[str, Sequence[Any]]) -> Mapping[str, Sequence[Any]]:
        """``columns`` (each of the batch's length) cut to this part's rows."""
        if self.whole:
            return columns
        return {name: [values[i] for i in self.positions] for name, values in columns.items()}


@dataclass(frozen=True)
class Answered:
    """A batch's scores, answered per row by its route."""

    parts: list[Part]
    scores: np.ndarray  # every row's answer, in the batch's order
    headers: RawHeaders
    shadow: ShadowJob | None = None  # shadow mode: the challenger's scoring of the batch

    def items(self, positions: list[int], ids: Sequence[Any]) -> list[dict[str, Any]]:
        """The answer's ``predictions``: each row's position in the request, its answer, and
        — during an experiment — the version, its threshold, the variant and the experiment
        that gave it."""
        count = len(ids)
        decisions: list[bool] = [False] * count
        routes: list[Route | None] = [None] * count
        for part in self.parts:
            for position, decision in zip(part.positions, part.decisions, strict=True):
                decisions[position] = decision
                routes[position] = part.route
        items = [
            {"row": r, "churn_probability": p, "churn": d, "customer_id": c}
            for r, p, d, c in zip(positions, self.scores.tolist(), decisions, ids, strict=True)
        ]
        for item, route in zip(items, routes, strict=True):
            if route is not None:
                item["model_version"] = route.model.version
                item["threshold"] = route.model.threshold
                item.update(route.fields)
        return items


def answer_rows(serving: Serving, matrix: np.ndarray, ids: Sequence[Any]) -> Answered:
    """Score a batch's encoded rows: each by its route in A/B, all by the champion otherwise
    (in shadow mode the challenger's scores come later, from the log writer)."""
    running = serving.experiment
    every = list(range(len(ids)))
    if running is None or running.shadow:
        champion = serving.champion
        route = None if running is None else running.route(None)
        scores = champion.predict(matrix)
        headers = champion.headers if route is None else route.headers
        part = Part(route, champion, every, scores, whole=True)
        return Answered([part], scores, headers, shadow_job(route, matrix))
    groups: dict[Route, list[int]] = {}
    for position, customer_id in enumerate(ids):
        groups.setdefault(running.route(customer_id), []).append(position)
    scores = np.empty(len(ids), dtype=np.float64)
    parts = []
    for route, positions in groups.items():
        part_scores = route.model.predict(matrix[positions])
        scores[positions] = part_scores
        parts.append(Part(route, route.model, positions, part_scores, whole=len(groups) == 1))
    names = {
        VARIANT_HEADER: ",".join(sorted({part.route.variant for part in parts if part.route})),
        VERSION_HEADER: ",".join(sorted({str(part.version) for part in parts})),
    }
    return Answered(parts, scores, raw_headers(names))
