"""Stable A/B assignment of customers to the champion or the challenger.

A customer's bucket is a keyed BLAKE2b hash (RFC 7693, Python's ``hashlib``) of their id,
reduced to one of ``BUCKETS`` (10,000). The key is derived from the experiment id, so each
experiment splits customers independently of the previous ones. The hash is fixed by its
specification, so the same id gets the same bucket in every process, worker, restart and
Python version (the built-in ``hash()`` of a string is salted per process and would not).

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


def _keyed_hasher(experiment_id: str) -> hashlib.blake2b:
    """BLAKE2b-64 keyed with BLAKE2b-256 of the experiment id (any length of id works)."""
    key = hashlib.blake2b(experiment_id.encode("utf-8"), digest_size=32).digest()
    return hashlib.blake2b(key=key, digest_size=8)


def _bucket(hasher: hashlib.blake2b, customer_id: str) -> int:
    keyed = hasher.copy()
    keyed.update(customer_id.encode("utf-8"))
    return int.from_bytes(keyed.digest(), "little") % BUCKETS


def bucket(experiment_id: str, customer_id: str) -> int:
    """The customer's bucket in [0, BUCKETS) for this experiment."""
    return _bucket(_keyed_hasher(experiment_id), customer_id)


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
        self._hasher = _keyed_hasher(experiment_id)
        self._random = rng or random.Random()

    def assign(self, customer_id: str | None) -> Assignment:
        if not customer_id:
            if self._random.random() * BUCKETS < self._threshold:
                return RANDOM_CHALLENGER
            return RANDOM_CHAMPION
        if _bucket(self._hasher, customer_id) < self._threshold:
            return CHALLENGER
        return CHAMPION
