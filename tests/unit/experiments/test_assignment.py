"""Stable A/B assignment: the same customer always gets the same variant, shares hold, and
raising the share only moves customers from the champion to the challenger."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
from xxhash import xxh3_64_intdigest

from churnops.errors import BadInputError
from churnops.experiments.assignment import BUCKETS, Assigner, bucket

IDS = [f"C{number:07d}" for number in range(100_000)]


def challengers(assigner: Assigner, ids: list[str]) -> np.ndarray:
    return np.array([assigner.assign(i).variant == "challenger" for i in ids])


def test_buckets_are_pinned() -> None:
    """The hash is fixed by its specification (seeded XXH3): these buckets never change, on
    any machine, Python or xxhash version; changing them would reshuffle running experiments."""
    assert [bucket("exp-1", i) for i in ("C0000001", "C0000002", "customer-é", "42")] == [
        3244,
        970,
        8496,
        8326,
    ]


def test_the_hash_is_xxh3_as_specified() -> None:
    """The library computes XXH3-64 as its specification's sanity vector says (empty input)."""
    assert xxh3_64_intdigest(b"") == 0x2D06800538D394C2


def test_same_customer_same_variant_in_another_process() -> None:
    """A fresh interpreter with a different string-hash seed assigns 2,000 ids identically."""
    ids = IDS[:2_000]
    code = (
        "import json, sys\n"
        "from churnops.experiments.assignment import Assigner\n"
        "ids = json.load(sys.stdin)\n"
        "assigner = Assigner('exp-restart', 30)\n"
        "print(json.dumps([assigner.assign(i).variant for i in ids]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(ids), capture_output=True, text=True,
        env=env, check=True, timeout=120,
    )  # fmt: skip
    here = Assigner("exp-restart", 30)
    assert json.loads(done.stdout) == [here.assign(i).variant for i in ids]
    assert [here.assign(i) for i in ids] == [Assigner("exp-restart", 30).assign(i) for i in ids]


@pytest.mark.parametrize("share", [1, 10, 33.3, 50, 90])
def test_observed_share_is_within_one_point_over_100000_ids(share: float) -> None:
    found = challengers(Assigner("exp-share", share), IDS).mean() * 100
    assert abs(found - share) <= 1, found


def test_raising_the_share_never_moves_a_customer_back() -> None:
    """From 10 % to 20 % (and on to 50 %), every challenger stays a challenger; only
    champions move."""
    at_10 = challengers(Assigner("exp-ramp", 10), IDS)
    at_20 = challengers(Assigner("exp-ramp", 20), IDS)
    at_50 = challengers(Assigner("exp-ramp", 50), IDS)
    assert not (at_10 & ~at_20).any() and not (at_20 & ~at_50).any()
    assert abs((at_20 & ~at_10).mean() - 0.10) <= 0.01  # about 10 % of customers moved over


def test_experiments_split_customers_independently() -> None:
    """Another experiment id reshuffles: challengers of two 50 % experiments overlap on about
    a quarter of customers, not half."""
    first = challengers(Assigner("exp-a", 50), IDS)
    second = challengers(Assigner("exp-b", 50), IDS)
    assert abs((first & second).mean() - 0.25) <= 0.01


@pytest.mark.parametrize("missing", [None, ""])
def test_requests_without_a_customer_id_are_random_and_marked(missing: str | None) -> None:
    """No id: random at the configured share, marked random; with an id: never marked."""
    assigner = Assigner("exp-anon", 25, rng=random.Random(3))
    answers = [assigner.assign(missing) for _ in range(20_000)]
    assert all(answer.random for answer in answers)
    share = np.mean([answer.variant == "challenger" for answer in answers])
    assert abs(share - 0.25) <= 0.01
    assert not assigner.assign("C0000001").random


@pytest.mark.parametrize("share", [0, 100, -5, 150, 0.001])
def test_a_share_outside_the_open_percentage_range_is_refused(share: float) -> None:
    with pytest.raises(BadInputError, match=r"share must be a percentage between 0\.01 and 99\.99"):
        Assigner("exp", share)


def test_an_experiment_needs_an_id() -> None:
    with pytest.raises(BadInputError, match="non-empty id"):
        Assigner("", 10)


def test_buckets_cover_the_whole_range() -> None:
    found = np.array([bucket("exp-range", i) for i in IDS[:20_000]])
    assert found.min() >= 0 and found.max() < BUCKETS
    assert len(np.unique(found // 100)) == 100  # every percent of buckets is used
