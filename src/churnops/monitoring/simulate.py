"""Realistic traffic for a running API: customers like the training data, optionally shifted,
sent concurrently.

The serving (current) version's schema says what a customer looks like — the API validates
against it; before any training, the project's schema does. With the built-in schema rows come
from the same generator as the training data (clean, no dirt); with any other they are drawn,
seeded and with replacement, from the serving version's stored reference sample (training
rows). Then a named shift (see ``shifts``) is applied. Rows go to ``POST /predict`` one by
one (as live traffic does), or in ``/predict/batch`` calls; a batch the API refuses (422) is
re-sent row by row so the valid rows still arrive and each refused row is counted.

The API validates every request against the feature schema, so rows with a never-seen
category or a missing value are refused (422) and never reach the inference log: the
``new-payment-method`` and ``missing-values`` shifts show up as refused rows here, and are
judged by drift from a file (``--out FILE`` then ``churnops drift --current FILE``).
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd

from churnops.data.generate import generate, generator_fits
from churnops.errors import BadInputError
from churnops.monitoring.reference import reference_sample
from churnops.monitoring.shifts import apply_shift
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema

TIMEOUT_S = 30.0
REFUSAL_CHARS = 160


@dataclass(frozen=True)
class Population:
    """Where simulated customers come from, and the schema they follow."""

    schema: FeatureSchema
    sample: pd.DataFrame | None = None  # a version's reference sample; None: the generator
    source: str = "the synthetic generator"
    whose: str = "the built-in schema"  # for messages: "v3's schema"


GENERATED = Population(DEFAULT_SCHEMA)


def population(registry: Registry, project: Callable[[], FeatureSchema]) -> Population:
    """The customers of the serving version's schema, or of ``project()`` before any
    version is current: the generator's when the schema is the built-in one, else the serving
    version's reference sample."""
    current = registry.read().current
    if current is None:
        schema = project()
        if generator_fits(schema):
            return Population(schema)
        raise BadInputError(
            "the project's feature schema is not the built-in one, so simulated customers are "
            "drawn from the serving version's reference sample, and no version is current yet; "
            "run `churnops train` first"
        )
    schema = FeatureSchema.model_validate(current.feature_schema)
    whose = f"{current.name}'s schema"
    if generator_fits(schema):
        return Population(schema, whose=whose)
    sample = reference_sample(registry, current)
    lacking = [name for name in schema.feature_names if name not in sample.columns]
    if lacking:
        raise BadInputError(
            f"{current.name}'s reference sample lacks {', '.join(lacking)}; retrain {current.name}"
        )
    return Population(schema, sample, f"{current.name}'s reference sample", whose)


def _drawn(sample: pd.DataFrame, rows: int, seed: int, schema: FeatureSchema) -> pd.DataFrame:
    """``rows`` rows of ``sample`` drawn with replacement (seeded), with new customer ids."""
    picked = np.random.default_rng(seed).integers(0, len(sample), rows)
    frame = sample[schema.feature_names].iloc[picked].reset_index(drop=True)
    frame.insert(0, schema.id_column, simulated_ids(rows, seed))
    return frame


def simulated_ids(rows: int, seed: int) -> list[str]:
    """The customers' ids: the seed's own (``S7-0000001``…), so simulations with different
    seeds never share a customer — their outcomes would label each other's predictions."""
    return [f"S{seed}-{i:07d}" for i in range(1, rows + 1)]


def simulated_frame(
    rows: int, seed: int, shift: str | None, population: Population = GENERATED
) -> pd.DataFrame:
    """``rows`` customers (id and features) with ``shift`` applied."""
    schema = population.schema
    if population.sample is None:
        frame = generate(rows, seed, dirt=False).frame[[schema.id_column, *schema.feature_names]]
        frame[schema.id_column] = simulated_ids(rows, seed)
    else:
        frame = _drawn(population.sample, rows, seed, schema)
    rng = np.random.default_rng([seed, 1])
    return apply_shift(frame, shift, rng, schema, population.whose)


def payloads(frame: pd.DataFrame, schema: FeatureSchema = DEFAULT_SCHEMA) -> list[dict[str, Any]]:
    """JSON bodies: whole months as int, money as float, a missing value as null."""
    columns: dict[str, list[Any]] = {schema.id_column: frame[schema.id_column].tolist()}
    for feature in schema.numeric:
        values = frame[feature.name].to_numpy(dtype=np.float64)
        cast = int if feature.kind == "int" else float
        columns[feature.name] = [None if math.isnan(v) else cast(v) for v in values.tolist()]
    for name in schema.categorical_names:
        columns[name] = [None if pd.isna(v) else str(v) for v in frame[name].tolist()]
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


@dataclass
class SimulationResult:
    rows: int = 0
    statuses: Counter[int] = field(default_factory=Counter)  # HTTP status per row
    served_by: Counter[int] = field(default_factory=Counter)  # model version per accepted row
    transport_errors: int = 0
    first_refusal: str | None = None
    seconds: float = 0.0

    @property
    def accepted(self) -> int:
        return self.statuses.get(200, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "served_by": {f"v{k}": v for k, v in sorted(self.served_by.items())},
            "transport_errors": self.transport_errors,
            "first_refusal": self.first_refusal,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows / self.seconds, 1) if self.seconds else None,
        }


class _Sender:
    def __init__(
        self, client: httpx.AsyncClient, result: SimulationResult, done: Callable[[int], None]
    ):
        self.client, self.result, self.done = client, result, done

    def _record(self, response: httpx.Response, rows: int) -> None:
        self.result.statuses[response.status_code] += rows
        if response.status_code == 200:
            answer = response.json()
            items = answer.get("predictions", [])
            if items and "model_version" in items[0]:  # an A/B batch: each row says who answered
                self.result.served_by.update(int(item["model_version"]) for item in items)
            else:
                self.result.served_by[int(answer["model_version"])] += rows
        elif self.result.first_refusal is None:
            self.result.first_refusal = f"{response.status_code}: {response.text[:REFUSAL_CHARS]}"

    async def one(self, body: dict[str, Any]) -> None:
        try:
            self._record(await self.client.post("/predict", json=body), 1)
        except httpx.TransportError:
            self.result.transport_errors += 1
        self.done(1)

    async def batch(self, bodies: list[dict[str, Any]]) -> None:
        try:
            response = await self.client.post("/predict/batch", json=bodies)
        except httpx.TransportError:
            self.result.transport_errors += len(bodies)
            self.done(len(bodies))
            return
        if response.status_code == 422 and len(bodies) > 1:
            for body in bodies:  # find the refused rows; the valid ones still go through
                await self.one(body)
            return
        self._record(response, len(bodies))
        self.done(len(bodies))


async def _send(
    url: str,
    bodies: list[dict[str, Any]],
    concurrency: int,
    batch_size: int,
    done: Callable[[int], None],
) -> SimulationResult:
    result = SimulationResult(rows=len(bodies))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT_S, limits=limits) as client:
        sender = _Sender(client, result, done)
        jobs: Iterator[list[dict[str, Any]]] = (
            bodies[i : i + batch_size] for i in range(0, len(bodies), batch_size)
        )

        async def worker() -> None:
            for job in jobs:  # a shared generator: each job is taken by one worker
                await (sender.one(job[0]) if batch_size == 1 else sender.batch(job))

        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = loop.time() - started
    return result


def send_traffic(
    url: str,
    bodies: list[dict[str, Any]],
    concurrency: int = 8,
    batch_size: int = 1,
    done: Callable[[int], None] = lambda rows: None,
) -> SimulationResult:
    """Send every body; ``done(n)`` is called as rows are answered (for a progress bar)."""
    return asyncio.run(_send(url.rstrip("/"), bodies, concurrency, batch_size, done))
