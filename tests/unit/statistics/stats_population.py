"""A large generated customer base whose AUCs serve as the truth in the statistical tests.

A million customers from ``churnops.data.generate`` (the known logistic ground truth). Samples
are drawn from it with replacement, i.e. independently from its distribution, so the AUC of a
fixed scorer on the whole population is exactly what a sample's AUC estimates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from churnops.data.generate import churn_logit_without_intercept, generate

ROWS = 1_000_000


@dataclass(frozen=True)
class Population:
    churned: np.ndarray  # bool, drawn from the ground truth
    logit: np.ndarray  # the ground-truth logit (less its intercept): the oracle's ranking
    scorers: dict[str, np.ndarray]  # fixed scorers of varied quality, one score per customer

    def true_auc(self, name: str) -> float:
        return float(roc_auc_score(self.churned, self.scorers[name]))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Row indices of ``size`` customers drawn independently from the population."""
        return rng.integers(0, self.churned.size, size)


@functools.cache
def population() -> Population:
    generated = generate(ROWS, seed=90_210, dirt=False)
    frame = generated.frame
    logit = churn_logit_without_intercept(frame)
    noise = np.random.default_rng(90_211).normal(size=(2, ROWS))
    scorers = {
        "oracle": generated.churn_probability,
        "tenure only (tied)": -frame["tenure"].to_numpy(dtype=float),
        "contract only (2 values)": (frame["contract_type"] == "Month-to-month").to_numpy(float),
        "charges only": frame["monthly_charges"].to_numpy(dtype=float),
        # two imperfect models, about 0.03 AUC apart (measured by the tests on this population)
        "weaker": logit + 1.25 * noise[0],
        "stronger": logit + 0.75 * noise[1],
    }
    return Population(frame["churn"].to_numpy() == 1, logit, scorers)
