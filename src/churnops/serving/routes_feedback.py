"""``POST /feedback``: true outcomes, one or a small batch, from the systems that learn them.

Closed (403) unless ``CHURNOPS_FEEDBACK_TOKEN`` is set; then the token is checked like the
admin token (``churnops.serving.security``), before the body is read or its size checked.
Every item is checked first, and the outcomes are recorded in one transaction through the
outcome store, off the event loop: an item that is wrong (422), two items that disagree about
the same customer (422) or an item that labels no logged prediction (404) and nothing is
recorded. While another writer holds the outcome store (a long ``churnops labels import``), a
call waits ``LOCK_WAIT_S`` for it, then gets a 503 with ``Retry-After`` rather than keep a
worker thread for half a minute.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Annotated, Any, Union

from fastapi import Body, Depends, FastAPI, HTTPException, status
from prometheus_client.core import CounterMetricFamily, Metric
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
)
from pydantic_core import PydanticCustomError

from churnops.errors import BadInputError
from churnops.outcomes.records import Distinct, distinct, make_outcome
from churnops.outcomes.store import (
    ConflictingOutcomesError,
    OutcomeStoreBusyError,
    UnmatchedOutcomesError,
    open_outcome_store,
)
from churnops.schema import DEFAULT_SCHEMA, LabelValues
from churnops.serving.json_route import json_body
from churnops.serving.predictor import Predictor
from churnops.serving.schemas import CustomerId, RequestId
from churnops.serving.security import TokenGuard, token_first
from churnops.serving.state import ServingState

MAX_ITEMS = 1_000
SOURCE = "POST /feedback"
LOCK_WAIT_S = 2.0  # for another writer: recording 1,000 outcomes takes well under a second
RETRY_AFTER_S = 5


def _json_type(value: Any) -> str | None:
    """The JSON type of ``value`` (None for an object, list or null)."""
    return {bool: "boolean", int: "number", float: "number", str: "string"}.get(type(value))


def _label_type(value: Any) -> str | None:
    """The JSON type of an outcome label; None for a fraction (1.5), which no label is."""
    return None if isinstance(value, float) else _json_type(value)


def one_of(
    pick: Callable[[Any], str | None], members: dict[str, Any], error_type: str, message: str
) -> PlainValidator:
    """Validate a value by the member ``pick`` names (by its JSON type or shape): a wrong value
    is one error, not one per member, at the value's own ``loc`` (a tagged union would add the
    member's internal tag to it). A value no member reads is ``error_type`` saying ``message``,
    what is accepted."""
    readers = {name: TypeAdapter(member) for name, member in members.items()}

    def read(value: Any) -> Any:
        reader = readers.get(pick(value) or "")
        if reader is None:
            raise PydanticCustomError(error_type, message)
        return reader.validate_python(value)

    accepted: Any = Union[tuple(members.values())]  # noqa: UP007 (made from a tuple)
    return PlainValidator(read, json_schema_input_type=accepted)


OutcomeLabel = Annotated[
    bool | int | str,
    one_of(
        _label_type,
        {"boolean": StrictBool, "number": StrictInt, "string": StrictStr},
        "outcome_type",
        "Input should be an outcome label: by default 1/true/yes (churned) or 0/false/no "
        "(stayed), as a string, an integer or a boolean",
    ),
]
ObservedAt = Annotated[
    str | int | float,
    one_of(
        _json_type,
        {"string": StrictStr, "number": StrictInt | StrictFloat},
        "observed_at_type",
        "Input should be an ISO date-time string or epoch seconds",
    ),
]


class FeedbackItem(BaseModel):
    """One outcome: about a request the API answered, a customer, or a customer of a batch."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"customer_id": "C0000042", "outcome": "yes", "observed_at": "2025-07-01"}]
        },
    )

    request_id: RequestId | None = None
    customer_id: CustomerId | None = None  # read as /predict reads it
    outcome: OutcomeLabel = Field(
        description="Churned or not, in the project's label spellings (1/true/yes, 0/false/no)"
    )
    observed_at: ObservedAt | None = Field(
        default=None,
        description="When the outcome was known: ISO date-time (UTC unless a zone is given) or "
        "epoch seconds [default: now]",
    )


def _shape(body: Any) -> str | None:
    """Which form the body takes, so a wrong one is checked, and its errors listed, once."""
    return "list" if isinstance(body, list) else "item" if isinstance(body, dict) else None


FeedbackBody = Annotated[
    FeedbackItem | list[FeedbackItem],
    one_of(
        _shape,
        {
            "item": FeedbackItem,
            "list": Annotated[list[FeedbackItem], Field(min_length=1, max_length=MAX_ITEMS)],
        },
        "body_type",
        f"Input should be an outcome (an object) or a list of 1 to {MAX_ITEMS:,} of them",
    ),
    Body(),
]


class FeedbackResult(BaseModel):
    received: int
    duplicates: int  # items repeating an earlier item exactly
    new: int
    changed: int  # corrections: the earlier outcome was replaced (and the change recorded)
    unchanged: int


class FeedbackAuthCollector:
    """``churnops_feedback_auth_failures_total``: wrong or missing feedback tokens."""

    def __init__(self, guard: TokenGuard) -> None:
        self.guard = guard

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "churnops_feedback_auth_failures",
            "Feedback requests with a missing or wrong token",
            value=self.guard.failures,
        )


def checked(items: list[FeedbackItem], labels: LabelValues, now: float) -> Distinct:
    """The items as outcomes, one per key, or a 422 naming the first wrong one."""
    parsed = []
    for number, item in enumerate(items):
        stamped = item.observed_at is None
        observed = now if stamped else item.observed_at
        try:
            outcome = make_outcome(
                item.request_id, item.customer_id, item.outcome, observed, labels, now
            )
        except BadInputError as exc:
            detail = f"item {number}: {exc}"
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from exc
        parsed.append((f"item {number}", replace(outcome, stamped=stamped)))
    unique = distinct(parsed)
    if unique.conflicts:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, unique.conflicts[0])
    return unique


def add_feedback_routes(app: FastAPI, state: ServingState) -> None:
    settings = state.settings
    guard = TokenGuard(settings.feedback_token, "feedback")
    state.metrics.registry.register(FeedbackAuthCollector(guard))
    store = open_outcome_store(settings.log_location, settings.outcome_window_days, LOCK_WAIT_S)
    predictor = state.predictor

    def feedback(body: FeedbackBody) -> FeedbackResult:
        """Record one outcome or a list of up to 1,000; the same outcome sent again changes
        nothing, a different one for the same request or customer replaces it."""
        items = body if isinstance(body, list) else [body]
        unique = checked(items, _label_values(predictor), time.time())
        outcomes = unique.outcomes
        try:
            recorded = store.record(outcomes, SOURCE, require="every")
        except ConflictingOutcomesError as exc:
            detail = unique.disagreements(exc.pairs[:1])[0]
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from exc
        except UnmatchedOutcomesError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        except OutcomeStoreBusyError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"the outcome store is busy: {exc}; nothing was recorded",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            ) from exc
        except (BadInputError, sqlite3.OperationalError) as exc:  # unreadable, or not writable
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, f"the outcome store is unavailable: {exc}"
            ) from exc
        return FeedbackResult(
            received=len(items),
            duplicates=len(items) - len(outcomes),
            new=recorded.new,
            changed=recorded.changed,
            unchanged=recorded.unchanged,
        )

    app.router.add_api_route(
        "/feedback",
        feedback,
        methods=["POST"],
        response_model=FeedbackResult,
        # the token first (before FastAPI reads the body), then 415, then the body
        dependencies=[Depends(json_body)],
        route_class_override=token_first(guard),
        responses={
            400: {"description": "The body is not readable text (not UTF-8)"},
            401: {"description": "Wrong token"},
            403: {"description": "Feedback disabled (no CHURNOPS_FEEDBACK_TOKEN)"},
            404: {"description": "An outcome labels no logged prediction; nothing recorded"},
            413: {"description": "Body larger than CHURNOPS_MAX_BODY_BYTES"},
            415: {"description": "Body not sent as application/json"},
            422: {"description": "A wrong item, or two that disagree; nothing recorded"},
            429: {"description": "Too many wrong tokens lately"},
            503: {"description": "The outcome store cannot be written now (Retry-After if busy)"},
        },
        tags=["outcomes"],
        summary="Record true outcomes (did the customer churn?)",
    )


def _label_values(predictor: Predictor) -> LabelValues:
    """The outcome spellings of the project the serving model was trained for (the built-in
    ones before any model is loaded)."""
    loaded = predictor.current
    return DEFAULT_SCHEMA.label_values if loaded is None else loaded.inputs.schema.label_values
