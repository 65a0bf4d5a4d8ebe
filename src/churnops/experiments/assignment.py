"""Stable A/B assignment of customers to the champion or the challenger.

A customer's bucket is the seeded 64-bit XXH3 hash (xxHash, stable since its 0.8.0
specification) of their id, reduced to one of ``BUCKETS`` (10,000). The seed is derived from
the experiment id (BLAKE2b of it, once per experiment), so each experiment splits customers
independently of the previous ones. The hash is fixed by its specification, so the same id
gets the same bucket in every process, worker, restart and Python version (the built-in
``hash()`` of a string is salted per process and would not). XXH3 rather than a cryptographic
hash: nobody gains by predicting their own bucket, and it runs on every A/B request. A call
takes a quarter to a sixth of keyed BLAKE2b's time (``benchmarks/bench_assignment.py``), and
about 1.3 µs less per request once a server's other work has swept the CPU's caches
(in-process handler timing, ``benchmarks/bench_experiments.py``); too little to show in a
whole server's throughput, where both measured within the same interval.

The challenger serves buckets below ``share × 100`` (share in percent, resolution 0.01 %).
Raising the share only adds buckets to the challenger, so no customer ever moves from the
challenger back to the champion and each customer's experience changes at most once.

Requests without a customer id (None or empty) cannot be kept stable: they go to the
challenger with probability share / 100 and are marked ``random``, so reports can count them
apart.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Literal

from xxhash import xxh3_64_intdigest

from churnops.errors import BadInputError

BUCKETS = 10_000
Variant = Literal["champion", "challenger"]


@dataclass(frozen=True, eq=False)
class Assignment:
    """One of the four answers below. They are the only instances, so they compare and hash
    by identity: a dictionary keyed by them (the API's routes) looks one up without calling
    a generated ``__hash__`` per request."""

    variant: Variant
    random: bool  # True: no customer id, drawn at random (not stable across requests)


# the four possible answers, built once: assigning allocates nothing on the request path
CHAMPION = Assignment("champion", random=False)
CHALLENGER = Assignment("challenger", random=False)
RANDOM_CHAMPION = Assignment("champion", random=True)
RANDOM_CHALLENGER = Assignment("challenger", random=True)


def _seed(experiment_id: str) -> int:
    """The experiment's 64-bit XXH3 seed: BLAKE2b-64 of its id (any length of id works)."""
    digest = hashlib.blake2b(experiment_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _bucket(seed: int, customer_id: str) -> int:
    return xxh3_64_intdigest(customer_id.encode("utf-8"), seed) % BUCKETS


def bucket(experiment_id: str, customer_id: str) -> int:
    """The customer's bucket in [0, BUCKETS) for this experiment."""
    return _bucket(_seed(experiment_id), customer_id)


def share_buckets(share: float) -> int:
    """Buckets given to the challenger for a share in percent, strictly between 0 and 100."""
    buckets = round(share * BUCKETS / 100) if 0 < share < 100 else 0  # no NaN or inf to round
    if not 0 < buckets < BUCKETS:
        raise BadInputError(
            f"the challenger's share must be a percentage between 0.01 and 99.99, got {share}"
        )
    return buckets


class Assigner:
    """Assigns requests of one experiment; build once per experiment, call per request."""

    def __init__(self, experiment_id: str, share: float, rng: random.Random | None = None):
        if not experiment_id:
            raise BadInputError("an experiment needs a non-empty id")
        self.experiment_id = experiment_id
        self.share = share
        self._threshold = share_buckets(share)
        self._seed = _seed(experiment_id)
        self._random = rng or random.Random()

    def assign(self, customer_id: str | None) -> Assignment:
        if not customer_id:
            if self._random.random() * BUCKETS < self._threshold:
                return RANDOM_CHALLENGER
            return RANDOM_CHAMPION
        if _bucket(self._seed, customer_id) < self._threshold:
            return CHALLENGER
        return CHAMPION
