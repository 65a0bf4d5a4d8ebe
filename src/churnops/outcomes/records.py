"""One true outcome — did the customer churn? — checked the same way from a file or the API.

An outcome names what it is about by a request id (the ``request_id`` the API answered with),
a customer id, or both (a batch request scores several customers under one request id). Its
value is read with the project's label spellings (``LabelValues``: what ``prepare`` accepts),
its observation time with the one time parser of the command line
(``churnops.monitoring.window.parse_time``).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from churnops.errors import BadInputError
from churnops.monitoring.window import iso, parse_time
from churnops.schema import (
    CUSTOMER_ID_PATTERN,
    CUSTOMER_ID_RULE,
    REQUEST_ID_PATTERN,
    REQUEST_ID_RULE,
    LabelValues,
    label_key,
    whole_number_text,
)

FUTURE_SLACK_S = 300.0  # clocks disagree a little; an outcome from further ahead is a mistake
CUSTOMER_ID = re.compile(CUSTOMER_ID_PATTERN)
REQUEST_ID = re.compile(REQUEST_ID_PATTERN)


@dataclass(frozen=True)
class Outcome:
    """An outcome; ``request_id`` / ``customer_id`` are "" when not given (never both)."""

    request_id: str
    customer_id: str
    churned: int  # 1: churned, 0: stayed
    observed_at: float  # epoch seconds
    # observed_at is when the outcome was received, the sender having given no time: sent
    # again, the same outcome then keeps the time first stored instead of replacing it
    stamped: bool = False

    @property
    def key(self) -> tuple[str, str]:
        """What the outcome is about: importing an outcome with the same key replaces it."""
        return self.request_id, self.customer_id

    @property
    def subject(self) -> str:
        """The key in words, for messages."""
        parts = []
        if self.request_id:
            parts.append(f"request {self.request_id}")
        if self.customer_id:
            parts.append(f"customer {self.customer_id}")
        return " / ".join(parts)

    def describe(self) -> str:
        verb = "churned" if self.churned else "stayed"
        return f"{verb} (observed {iso(self.observed_at)})"


def blank(value: Any) -> bool:
    """An empty cell: None, NaN or whitespace."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _identifier(value: Any, pattern: re.Pattern[str], rule: str, name: str) -> str:
    """The id in ``value`` ("" when blank), or an error saying ``rule``: ``pattern`` in words."""
    if blank(value):
        return ""
    text = whole_number_text(value) or str(value).strip()  # a Parquet column of ids as floats
    if not pattern.fullmatch(text):
        shown = text if len(text) <= 80 else text[:80] + "…"
        raise BadInputError(f"{name} {shown!r} is not a valid id: use {rule}")
    return text


@functools.lru_cache(maxsize=8)
def _mapping(labels: LabelValues) -> dict[str, int]:
    """``labels.mapping()``, built once per label declaration rather than once per row."""
    return labels.mapping()


def churned_value(value: Any, labels: LabelValues) -> int:
    """1 (churned) or 0 (stayed) from a label cell: the project's spellings, booleans, 0/1."""
    if blank(value):
        raise BadInputError(f"the outcome is empty; write {labels.describe()}")
    text = str(value).lower() if isinstance(value, bool) else str(value)
    found = _mapping(labels).get(label_key(text))
    if found is None:
        raise BadInputError(f"outcome {str(value)[:80]!r} is not {labels.describe()}")
    return found


def observed_time(value: Any, now: float) -> float:
    """Epoch seconds from a date-time (text or a datetime cell), epoch seconds or an age."""
    if blank(value):
        raise BadInputError("observed_at is empty; give when the outcome was known")
    if isinstance(value, datetime | date):
        value = value.isoformat()
    try:
        moment = parse_time(str(value), now, "observed_at")
    except BadInputError as exc:
        raise BadInputError(str(exc)[:200]) from None
    if moment > now + FUTURE_SLACK_S:
        raise BadInputError(f"observed_at {value} is in the future")
    return moment


def make_outcome(
    request_id: Any,
    customer_id: Any,
    outcome: Any,
    observed_at: Any,
    labels: LabelValues,
    now: float,
) -> Outcome:
    """A checked outcome, or ``BadInputError`` saying what is wrong with it."""
    request = _identifier(request_id, REQUEST_ID, REQUEST_ID_RULE, "request_id")
    customer = _identifier(customer_id, CUSTOMER_ID, CUSTOMER_ID_RULE, "customer_id")
    if not request and not customer:
        raise BadInputError("neither a customer id nor a request id is given")
    return Outcome(
        request, customer, churned_value(outcome, labels), observed_time(observed_at, now)
    )


def disagreement(where: str, outcome: Outcome, earlier_where: str, earlier: Outcome) -> str:
    """Two outcomes of one input that disagree, in words: about the same key (``distinct``
    finds them) or, their keys differing, about the same prediction (the store finds them)."""
    said = f"{where}: {outcome.subject} {outcome.describe()} but {earlier_where}"
    if outcome.key == earlier.key:
        return f"{said} says {earlier.describe()}"
    return (
        f"{said} ({earlier.subject}) says {earlier.describe()} about the same prediction; "
        "keep the right one"
    )


@dataclass(frozen=True)
class Distinct:
    """Outcomes with one per key: exact repeats dropped, disagreeing ones listed."""

    outcomes: list[Outcome]
    where: list[str]  # the row or item each outcome was first given in
    duplicates: int  # repeats of an outcome given earlier in the same input
    conflicts: list[str]  # where two disagree, in words

    def disagreements(self, pairs: Sequence[tuple[int, int]]) -> list[str]:
        """(earlier, later) positions of ``outcomes`` that disagree, in words."""
        return [
            disagreement(
                self.where[later], self.outcomes[later], self.where[first], self.outcomes[first]
            )
            for first, later in pairs
        ]


def distinct(items: list[tuple[str, Outcome]]) -> Distinct:
    """One outcome per key from (where, outcome) pairs (``where`` names its row or item). Two
    that say different things about the same key conflict: which one is right is the sender's
    call, so neither is taken."""
    first: dict[tuple[str, str], tuple[str, Outcome]] = {}
    duplicates = 0
    conflicts = []
    for where, outcome in items:
        earlier = first.setdefault(outcome.key, (where, outcome))
        if earlier[1] is outcome:
            continue
        if earlier[1] == outcome:
            duplicates += 1
        else:
            conflicts.append(disagreement(where, outcome, *earlier))
    kept = list(first.values())
    return Distinct(
        [outcome for _, outcome in kept], [where for where, _ in kept], duplicates, conflicts
    )
