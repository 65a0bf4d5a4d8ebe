"""The experiment recorded in metadata.json is checked when it is read."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from churnops.registry.entries import Experiment

BASE = {"id": "exp4", "champion": 1, "challenger": 2, "started_at": "t", "started_by": "u"}


def test_an_ab_experiment_needs_a_share_and_a_shadow_one_none() -> None:
    """A/B splits by share; shadow scores every row, so a share there is a mistake."""
    assert Experiment(**BASE, mode="ab", share=10).share == 10
    assert Experiment(**BASE, mode="shadow").share is None
    for mode, share in (("ab", None), ("shadow", 10.0), ("ab", 0.0), ("ab", 100.0)):
        with pytest.raises(ValidationError):
            Experiment(**BASE, mode=mode, share=share)


def test_the_challenger_cannot_be_the_champion() -> None:
    with pytest.raises(ValidationError, match="challenger is the champion"):
        Experiment(**{**BASE, "challenger": 1}, mode="shadow")
