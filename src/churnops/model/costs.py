"""What a wrong decision costs, and the decision threshold that costs least.

A missed churner (false negative) loses the customer; a retention offer sent to a customer who
would have stayed (false positive) wastes the offer. The expected cost per customer of a
threshold is ``(cost_fn × FN + cost_fp × FP) / customers``; correct decisions cost nothing
(a retained churner's offer is the price of keeping them).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from churnops.errors import BadInputError

THRESHOLD_GRID = np.round(np.linspace(0.01, 0.99, 99), 2)
"""The thresholds a cost threshold is chosen from, and where cost curves are drawn."""


class Costs(BaseModel):
    """The cost of each kind of mistake, in any currency (the same one for both)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    false_negative: float = Field(gt=0, allow_inf_nan=False, description="A missed churner")
    false_positive: float = Field(gt=0, allow_inf_nan=False, description="A wasted offer")

    def describe(self) -> str:
        return f"missed churner {self.false_negative:g}, wasted offer {self.false_positive:g}"


def resolve_costs(
    declared: Costs | None, false_negative: float | None, false_positive: float | None
) -> Costs | None:
    """The costs in force: the command line's values over the project file's ``costs:`` block;
    None when neither gives any."""
    if false_negative is None and false_positive is None:
        return declared
    fn = false_negative if false_negative is not None else getattr(declared, "false_negative", None)
    fp = false_positive if false_positive is not None else getattr(declared, "false_positive", None)
    if fn is None or fp is None:
        missing = "--cost-fp" if fp is None else "--cost-fn"
        raise BadInputError(
            f"give both --cost-fn and --cost-fp (or declare costs: in the project file); "
            f"{missing} is missing"
        )
    for flag, value in (("--cost-fn", fn), ("--cost-fp", fp)):
        if not (np.isfinite(value) and value > 0):
            raise BadInputError(f"{flag} {value:g} must be a positive number, e.g. {flag} 20")
    return Costs(false_negative=fn, false_positive=fp)


def expected_cost(y_true: np.ndarray, proba: np.ndarray, threshold: float, costs: Costs) -> float:
    """The cost per customer of deciding ``churn`` at ``proba ≥ threshold``."""
    return float(cost_curve(y_true, proba, np.array([threshold]), costs)[0])


def cost_curve(
    y_true: np.ndarray, proba: np.ndarray, thresholds: np.ndarray, costs: Costs
) -> np.ndarray:
    """The cost per customer at each threshold, from one sort of the scores."""
    order = np.sort(proba)
    churner_scores = np.sort(proba[y_true == 1])
    below = np.searchsorted(order, thresholds, side="left")  # customers not contacted
    missed = np.searchsorted(churner_scores, thresholds, side="left")  # churners among them
    wasted = (len(proba) - below) - (len(churner_scores) - missed)  # stayers contacted
    total = costs.false_negative * missed + costs.false_positive * wasted
    return np.asarray(total / max(len(proba), 1), dtype=np.float64)


def cost_scorer(costs: Costs) -> object:
    """A scikit-learn scorer: minus the cost per customer of the predicted labels (higher is
    better), for ``TunedThresholdClassifierCV``."""
    from sklearn.metrics import make_scorer

    def negative_cost(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        labels = np.asarray(y_pred, dtype=np.float64)
        return -expected_cost(np.asarray(y_true), labels, 0.5, costs)

    return make_scorer(negative_cost)
