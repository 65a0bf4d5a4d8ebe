"""The outcome store: true outcomes beside the inference log, and their join to predictions.

``OutcomeStore`` is the interface the rest of churnops uses; ``SqliteOutcomeStore`` keeps the
outcomes in the inference log's SQLite file (own tables, so the log, the outcomes and their
join survive restarts and exports together), ``PostgresOutcomeStore`` in the shared database.
Both run the same statements (``SqlOutcomeStore``), kept to what SQLite and PostgreSQL share.

Reading joins in pandas (``label``: hash joins, linear in the rows read), not in SQL, whose
plan for a range condition between two tables is the planner's guess. Recording checks which
outcomes label a prediction with one indexed lookup each: the store indexes the log by request
id and by (customer id, time) when it first opens it — each logged row then costs the API's
log writer about 9 µs more CPU, off the request path.

Keys and corrections — an outcome is about a request id, a customer id, or a customer of a
batch request (both), and that pair is its key: recording the same outcome again changes
nothing, a different value or observation time for the same key replaces the stored one and
the change is kept in ``outcome_changes`` (old and new value, when, from where).

The join (documented in the README):

- an outcome with a request id labels the predictions logged under that request id (only the
  named customer's, when it names one too: a batch shares one request id);
- an outcome with only a customer id labels that customer's predictions made within
  ``window_days`` before it was observed (``CHURNOPS_OUTCOME_WINDOW_DAYS``, 90 by default);
- a prediction labelled by several outcomes takes the one observed first (at the same time,
  the one recorded first: of an earlier recording — two outcomes of one recording that label
  a prediction at the same time with different values are refused, ``ConflictingOutcomesError``).

Batch scores (``churnops score`` outputs, given to ``record`` and ``predictions`` as
``scored``) are predictions without a request id: the same rule labels them, so only outcomes
with a customer id and no request id do — an outcome naming a request id is about that API
answer, and labels no batch-scored row even when it names the customer too. The score files
are read where they lie, never copied into the store.

Recording is one transaction: every outcome is stored, or none. It waits ``lock_wait``
seconds for another recorder (a long ``churnops labels import``) to finish, then gives up with
``OutcomeStoreBusyError``: the CLI waits long, the API briefly.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from churnops import logstore
from churnops.database.url import DatabaseUrl
from churnops.errors import BadInputError
from churnops.outcomes.records import Outcome, disagreement

MatchPolicy = Literal["some", "every"]  # refuse unless some / every outcome labels a prediction
# how many bad rows, unmatched outcomes or conflicting pairs a refusal lists (then a count)
SHOWN_REASONS = 5
OUTCOME_COLUMNS = ("outcome_id", "outcome", "outcome_observed_at")
JOIN_KEYS = ("id", "request_id", "customer_id", "ts")  # what the join reads of each prediction
BATCH = "batch"  # in ``predictions(scored=…)``: whether a row came from ``scored``
OUTCOME_FIELDS = ("outcome_id", "request_id", "customer_id", "outcome", "observed_at")
LOCK_WAIT_S = logstore.BUSY_TIMEOUT_MS / 1000  # for another recorder to finish

TABLES = (
    """CREATE TABLE IF NOT EXISTS outcomes (
        id INTEGER PRIMARY KEY,
        request_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        outcome INTEGER NOT NULL CHECK (outcome IN (0, 1)),
        observed_at REAL NOT NULL,
        recorded_at REAL NOT NULL,
        source TEXT NOT NULL,
        UNIQUE (request_id, customer_id)
    )""",
    "CREATE INDEX IF NOT EXISTS outcomes_customer ON outcomes (customer_id)",
    """CREATE TABLE IF NOT EXISTS outcome_changes (
        id INTEGER PRIMARY KEY,
        outcome_id INTEGER NOT NULL REFERENCES outcomes (id),
        old_outcome INTEGER NOT NULL,
        new_outcome INTEGER NOT NULL,
        old_observed_at REAL NOT NULL,
        new_observed_at REAL NOT NULL,
        changed_at REAL NOT NULL,
        source TEXT NOT NULL
    )""",
)
# the join looks predictions up by request id, and by customer within a time window
LOG_INDEXES = (
    f"CREATE INDEX IF NOT EXISTS {logstore.TABLE}_request ON {logstore.TABLE} (request_id)",
    f"CREATE INDEX IF NOT EXISTS {logstore.TABLE}_customer ON {logstore.TABLE} (customer_id, ts)",
)
INCOMING = """CREATE TEMPORARY TABLE incoming (
    position INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    outcome INTEGER NOT NULL,
    observed_at DOUBLE PRECISION NOT NULL
)"""


def labels_by_request(o: str) -> str:
    """Whether the outcome (alias ``o``) with a request id labels the prediction (alias p)."""
    return f"""{o}.request_id <> '' AND p.request_id = {o}.request_id
        AND ({o}.customer_id = '' OR p.customer_id = {o}.customer_id)"""


def labels_by_customer(o: str) -> str:
    """Whether the outcome (alias ``o``) with only a customer id labels the prediction (p)."""
    return f"""{o}.request_id = '' AND p.customer_id = {o}.customer_id
        AND p.ts <= {o}.observed_at AND p.ts >= {o}.observed_at - :window"""


# pairs of incoming outcomes (b, a) that label the same logged prediction at the same time
# with different values: two keys meet on a prediction only through a request id (b's), and a
# names the same request or only the prediction's customer (one SELECT for each way)
DISAGREEING = "\nUNION\n".join(
    f"""SELECT b.position, a.position FROM incoming b
        JOIN {logstore.TABLE} p ON {labels_by_request("b")}
        JOIN incoming a ON a.observed_at = b.observed_at AND a.outcome <> b.outcome
            AND {labels("a")}"""
    for labels in (labels_by_request, labels_by_customer)
)


@dataclass(frozen=True)
class Recorded:
    """What recording a set of outcomes did."""

    received: int
    new: int
    changed: int
    unchanged: int
    unmatched: int  # outcomes that label no prediction (stored all the same)
    first_unmatched: tuple[str, ...]
    matched_log: int  # outcomes that label a logged prediction
    matched_scores: int  # outcomes that label a batch-scored prediction (``scored``)


@dataclass(frozen=True)
class OutcomeChange:
    request_id: str
    customer_id: str
    old_outcome: int
    new_outcome: int
    old_observed_at: float
    new_observed_at: float
    changed_at: float
    source: str


class UnmatchedOutcomesError(BadInputError):
    """Outcomes that label no logged prediction, refused by the match policy."""

    def __init__(self, message: str, subjects: Sequence[str]) -> None:
        super().__init__(message)
        self.subjects = tuple(subjects)


class ConflictingOutcomesError(BadInputError):
    """Outcomes of one recording that label the same prediction, observed at the same time,
    with different values: which one is right is the sender's call, so none is recorded."""

    def __init__(self, message: str, pairs: Sequence[tuple[int, int]]) -> None:
        super().__init__(message)
        self.pairs = tuple(pairs)  # (earlier, later) positions in the outcomes recorded


class OutcomeStoreBusyError(BadInputError):
    """Another recorder held the outcome store for longer than this one waits."""


class OutcomeStore(Protocol):
    """Where outcomes are kept and joined to the logged predictions."""

    def record(
        self,
        outcomes: Sequence[Outcome],
        source: str,
        require: MatchPolicy,
        scored: pd.DataFrame | None = None,
    ) -> Recorded:
        """Store ``outcomes`` (distinct keys) in one transaction, or raise and store none:
        ``ConflictingOutcomesError`` when two of them label the same logged prediction at the
        same time with different values (through different keys: a request id and its
        customer's id); ``UnmatchedOutcomesError`` when too few of them label a prediction —
        logged, or one of the batch-scored predictions ``scored`` (``customer_id``, ``ts``)."""
        ...

    def predictions(
        self,
        fields: Sequence[str],
        since: float | None = None,
        until: float | None = None,
        experiment_id: str | None = None,
        scored: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Logged predictions (``since <= ts < until``, of one experiment if given), oldest
        first: ``fields`` plus ``OUTCOME_COLUMNS`` (null where no outcome labels it yet).
        With ``scored`` (batch-scored predictions: ``customer_id``, ``ts`` and ``fields``,
        already in the window), those too, after the logged ones, labelled in the same
        snapshot of the outcomes, and a ``BATCH`` column saying which rows they are."""
        ...

    def changes(self) -> list[OutcomeChange]:
        """Every correction recorded, oldest first."""
        ...


class Session(Protocol):
    """One connection inside one transaction, taking SQLite's placeholders (``?``, ``:name``)."""

    logged: bool  # whether the log table exists

    def rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        """Run a statement; its rows."""
        ...

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def log_columns(self) -> set[str]: ...


class SqlOutcomeStore:
    """The outcome store's logic, on any ``Session``: the backends differ only in how they
    open one (``_session``) and whether a log can be missing (``_present``)."""

    where: str  # the log's location, for messages

    def __init__(self, window_days: float, lock_wait: float = LOCK_WAIT_S) -> None:
        self.window_seconds = window_days * 86_400
        self.lock_wait = lock_wait

    def _busy(self) -> OutcomeStoreBusyError:
        return OutcomeStoreBusyError(
            f"{self.where} stayed locked by another writer (a labels import?) for "
            f"{self.lock_wait:g} s; try again when it is done"
        )

    def _session(self, write: bool) -> AbstractContextManager[Session]:
        """A transaction: ``write`` ones exclude other writers; read ones see one snapshot."""
        raise NotImplementedError

    def _present(self) -> bool:
        return True

    # ---- writing -------------------------------------------------------------------------
    def record(
        self,
        outcomes: Sequence[Outcome],
        source: str,
        require: MatchPolicy,
        scored: pd.DataFrame | None = None,
    ) -> Recorded:
        if len({o.key for o in outcomes}) != len(outcomes):
            raise ValueError("record() takes outcomes with distinct keys")
        batch = None if scored is None else self._matched_scores(outcomes, scored)
        if not self._present():  # refuse before opening, which would create an empty log
            unmatched = _unmatched(outcomes, batch or set())
            _check_policy(require, len(outcomes), unmatched, False, batch is not None)
        with self._session(write=True) as session:
            return self._record(session, outcomes, source, require, batch)

    def _matched_scores(self, outcomes: Sequence[Outcome], scored: pd.DataFrame) -> set[int]:
        """Positions of the outcomes that label at least one of the batch-scored predictions."""
        incoming = pd.DataFrame.from_records(_incoming(outcomes), columns=list(OUTCOME_FIELDS))
        found = matches(as_predictions(scored), incoming, self.window_seconds)
        return set(found["outcome_id"].tolist())

    def _record(
        self,
        session: Session,
        outcomes: Sequence[Outcome],
        source: str,
        require: MatchPolicy,
        batch: set[int] | None,
    ) -> Recorded:
        session.rows(INCOMING)
        session.run_many("INSERT INTO incoming VALUES (?, ?, ?, ?, ?)", _incoming(outcomes))
        if session.logged:
            self._refuse_disagreeing(session, outcomes)
        logged = self._matched(session) if session.logged else set()
        matched = logged | (batch or set())
        unmatched = _unmatched(outcomes, matched)
        _check_policy(require, len(outcomes), unmatched, session.logged, batch is not None)
        stored = {
            position: (row_id, outcome, observed)
            for position, row_id, outcome, observed in session.rows(
                "SELECT i.position, o.id, o.outcome, o.observed_at FROM incoming i JOIN outcomes o "
                "ON o.request_id = i.request_id AND o.customer_id = i.customer_id"
            )
        }
        now = time.time()
        new, changed = [], []
        for position, outcome in enumerate(outcomes):
            before = stored.get(position)
            if before is None:
                new.append(outcome)
            elif before[1] != outcome.churned or (
                not outcome.stamped and before[2] != outcome.observed_at
            ):
                changed.append((before, outcome))
        session.run_many(
            "INSERT INTO outcomes (request_id, customer_id, outcome, observed_at, recorded_at, "
            "source) VALUES (?, ?, ?, ?, ?, ?)",
            [(o.request_id, o.customer_id, o.churned, o.observed_at, now, source) for o in new],
        )
        _replace(session, changed, now, source)
        return Recorded(
            received=len(outcomes),
            new=len(new),
            changed=len(changed),
            unchanged=len(outcomes) - len(new) - len(changed),
            unmatched=len(unmatched),
            first_unmatched=tuple(unmatched[:SHOWN_REASONS]),
            matched_log=len(logged),
            matched_scores=len(batch or ()),
        )

    def _refuse_disagreeing(self, session: Session, outcomes: Sequence[Outcome]) -> None:
        """``ConflictingOutcomesError`` for incoming outcomes that label the same logged
        prediction at the same time with different values: the join would take whichever
        came first, so the order of a file's rows would decide (batch-scored predictions have
        no request id: only customer-id outcomes, one per customer, label them)."""
        found = session.rows(DISAGREEING, {"window": self.window_seconds})
        pairs = sorted({(min(b, a), max(b, a)) for b, a in found})
        if pairs:
            shown = [
                disagreement(
                    f"outcome {later}", outcomes[later], f"outcome {first}", outcomes[first]
                )
                for first, later in pairs[:SHOWN_REASONS]
            ]
            raise ConflictingOutcomesError(
                f"{len(pairs)} pair(s) of outcomes disagree, nothing was recorded; "
                + "; ".join(shown),
                pairs,
            )

    def _matched(self, session: Session) -> set[int]:
        """Positions of the incoming outcomes that label at least one logged prediction."""
        sql = f"""
            SELECT o.position FROM incoming o WHERE EXISTS (
                SELECT 1 FROM {logstore.TABLE} p WHERE {labels_by_request("o")})
            UNION
            SELECT o.position FROM incoming o WHERE EXISTS (
                SELECT 1 FROM {logstore.TABLE} p WHERE {labels_by_customer("o")})"""
        return {row[0] for row in session.rows(sql, {"window": self.window_seconds})}

    # ---- reading -------------------------------------------------------------------------
    def predictions(
        self,
        fields: Sequence[str],
        since: float | None = None,
        until: float | None = None,
        experiment_id: str | None = None,
        scored: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        names = list(fields)
        log, outcomes = self._read(names, since, until, experiment_id)
        if scored is not None:
            log = log.assign(**{BATCH: False})
            if len(scored):
                batch = as_predictions(scored).assign(**{BATCH: True})
                log = pd.concat([log, batch], ignore_index=True) if len(log) else batch
            names.append(BATCH)
        if log.empty:
            return pd.DataFrame(columns=[*names, *OUTCOME_COLUMNS])
        labelled = log.merge(label(log, outcomes, self.window_seconds), on="id", how="left")
        labelled["outcome"] = labelled["outcome"].astype("Int8")
        labelled["outcome_id"] = labelled["outcome_id"].astype("Int64")
        return labelled[[*names, *OUTCOME_COLUMNS]]

    def _read(
        self,
        names: list[str],
        since: float | None,
        until: float | None,
        experiment_id: str | None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The logged predictions in the window (``JOIN_KEYS`` and ``names``) and every
        outcome, in one snapshot; empty frames where there are none."""
        selected = list(dict.fromkeys([*JOIN_KEYS, *names]))
        log = pd.DataFrame(columns=selected)
        outcomes = pd.DataFrame(columns=list(OUTCOME_FIELDS))
        if not self._present():
            return log, outcomes
        with self._session(write=False) as session:
            if session.logged:
                _require_columns(session.log_columns(), names, self.where)
                where, params = _window(since, until, experiment_id)
                shown = ", ".join(f"p.{logstore.quoted(name)}" for name in selected)
                sql = f"SELECT {shown} FROM {logstore.TABLE} p WHERE {where} ORDER BY p.id"
                log = pd.DataFrame.from_records(session.rows(sql, params), columns=selected)
            outcomes = pd.DataFrame.from_records(
                session.rows(
                    "SELECT id, request_id, customer_id, outcome, observed_at FROM outcomes"
                ),
                columns=list(OUTCOME_FIELDS),
            )
        return log, outcomes

    def changes(self) -> list[OutcomeChange]:
        if not self._present():
            return []
        with self._session(write=False) as session:
            rows = session.rows(
                "SELECT o.request_id, o.customer_id, c.old_outcome, c.new_outcome, "
                "c.old_observed_at, c.new_observed_at, c.changed_at, c.source "
                "FROM outcome_changes c JOIN outcomes o ON o.id = c.outcome_id ORDER BY c.id"
            )
        return [OutcomeChange(*row) for row in rows]


def _incoming(outcomes: Sequence[Outcome]) -> list[tuple[int, str, str, int, float]]:
    """The outcomes as rows of ``OUTCOME_FIELDS``, numbered by their position."""
    return [
        (i, o.request_id, o.customer_id, o.churned, o.observed_at) for i, o in enumerate(outcomes)
    ]


def _replace(
    session: Session,
    changed: list[tuple[tuple[int, int, float], Outcome]],
    now: float,
    source: str,
) -> None:
    session.run_many(
        "UPDATE outcomes SET outcome = ?, observed_at = ?, recorded_at = ?, source = ? "
        "WHERE id = ?",
        [(o.churned, o.observed_at, now, source, before[0]) for before, o in changed],
    )
    session.run_many(
        "INSERT INTO outcome_changes (outcome_id, old_outcome, new_outcome, old_observed_at, "
        "new_observed_at, changed_at, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (before[0], before[1], o.churned, before[2], o.observed_at, now, source)
            for before, o in changed
        ],
    )


class _SqliteSession:
    def __init__(self, conn: sqlite3.Connection, logged: bool) -> None:
        self.conn = conn
        self.logged = logged

    def rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def log_columns(self) -> set[str]:
        return {row[1] for row in self.conn.execute(f"PRAGMA table_info({logstore.TABLE})")}


class SqliteOutcomeStore(SqlOutcomeStore):
    """Outcomes in the inference log's SQLite file (a connection per call: thread-safe)."""

    def __init__(self, path: Path, window_days: float, lock_wait: float = LOCK_WAIT_S) -> None:
        super().__init__(window_days, lock_wait)
        self.path = path
        self.where = str(path)

    def _present(self) -> bool:
        return self.path.exists()

    @contextmanager
    def _session(self, write: bool) -> Iterator[Session]:
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")  # reads: one snapshot
            session = _SqliteSession(conn, self._prepare(conn))
            try:
                yield session
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            # a read of a file without a log leaves it as it was
            conn.execute("COMMIT" if write or session.logged else "ROLLBACK")

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = logstore.open_database(self.path, round(self.lock_wait * 1000))
        except sqlite3.Error as exc:
            raise BadInputError(f"{self.path} is not a usable database ({exc})") from exc
        conn.isolation_level = None  # transactions are begun and ended explicitly
        try:
            yield conn
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise self._busy() from exc
            raise BadInputError(
                f"{self.path} is not a readable inference log ({exc}); move it aside or "
                "check --home / CHURNOPS_HOME"
            ) from exc
        finally:
            conn.close()

    @staticmethod
    def _prepare(conn: sqlite3.Connection) -> bool:
        """Create the outcome tables (and the join's indexes on the log); whether a log exists."""
        for statement in TABLES:
            conn.execute(statement)
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (logstore.TABLE,)
        ).fetchone()
        if found is not None:
            for statement in LOG_INDEXES:
                conn.execute(statement)
        return found is not None


def _unmatched(outcomes: Sequence[Outcome], matched: set[int]) -> list[str]:
    """The outcomes at no ``matched`` position, in words, in order."""
    return [o.subject for i, o in enumerate(outcomes) if i not in matched]


def _check_policy(
    require: MatchPolicy, total: int, unmatched: list[str], logged: bool, scored: bool
) -> None:
    refused = bool(unmatched) if require == "every" else total > 0 and len(unmatched) == total
    if not refused:
        return
    shown = ", ".join(unmatched[:SHOWN_REASONS])
    what = "logged or batch-scored prediction" if scored else "logged prediction"
    where = "" if logged or scored else " (no prediction has been logged yet)"
    if require == "every":
        message = (
            f"{len(unmatched)} outcome(s) label no {what}{where}: {shown}; an outcome "
            "names the request_id the API answered with, or a customer scored before the "
            "outcome was observed (answers reach the log within a second); nothing was recorded"
        )
    else:
        message = (
            f"none of the {total:,} outcomes labels a {what}{where} (first: {shown}); "
            "check the ids, the observed_at times, --home and --scores; nothing was imported"
        )
    raise UnmatchedOutcomesError(message, unmatched)


def _require_columns(stored: set[str], names: list[str], where: str) -> None:
    absent = [name for name in names if name not in stored]
    if absent:
        raise BadInputError(
            f"{where} has no column {', '.join(absent)} (written by an older churnops?); "
            "move it aside to start a new log"
        )


def _window(
    since: float | None, until: float | None, experiment_id: str | None
) -> tuple[str, dict[str, object]]:
    """The predictions' filter (on alias p) and its parameters."""
    where: list[str] = []
    params: dict[str, object] = {}
    if since is not None:
        where.append("p.ts >= :since")
        params["since"] = since
    if until is not None:
        where.append("p.ts < :until")
        params["until"] = until
    if experiment_id is not None:
        where.append("p.experiment_id = :experiment")
        params["experiment"] = experiment_id
    return " AND ".join(where) or "1 = 1", params


def as_predictions(scored: pd.DataFrame) -> pd.DataFrame:
    """Batch-scored predictions as the join reads logged ones: ids of their own (negative, so
    never a logged row's) and no request id."""
    return scored.assign(id=-np.arange(1, len(scored) + 1, dtype=np.int64), request_id="")


def matches(log: pd.DataFrame, outcomes: pd.DataFrame, window_seconds: float) -> pd.DataFrame:
    """The join rule, as hash joins: every (prediction, outcome) pair it makes, for the
    predictions of ``log`` (``id``, ``request_id``, ``customer_id``, ``ts``) and ``outcomes``
    (``OUTCOME_FIELDS``): ``id``, ``outcome_id``, ``outcome``, ``observed_at``."""
    named = outcomes["request_id"] != ""
    by_request = log[["id", "request_id", "customer_id"]].merge(
        outcomes[named], on="request_id", suffixes=("", "_named")
    )
    same = (by_request["customer_id_named"] == "") | (
        by_request["customer_id_named"] == by_request["customer_id"]
    )
    by_customer = log[["id", "customer_id", "ts"]].merge(outcomes[~named], on="customer_id")
    before = (by_customer["ts"] <= by_customer["observed_at"]) & (
        by_customer["ts"] >= by_customer["observed_at"] - window_seconds
    )
    columns = ["id", "outcome_id", "outcome", "observed_at"]
    return pd.concat([by_request.loc[same, columns], by_customer.loc[before, columns]])


def label(log: pd.DataFrame, outcomes: pd.DataFrame, window_seconds: float) -> pd.DataFrame:
    """For each prediction of ``log`` that an outcome labels (``matches``), the earliest-
    observed such outcome (``outcome_id``, ``outcome``, ``outcome_observed_at``), one row per
    labelled ``id``."""
    found = matches(log, outcomes, window_seconds)
    earliest = found.sort_values(["observed_at", "outcome_id"], kind="stable")
    return earliest.drop_duplicates("id").rename(columns={"observed_at": "outcome_observed_at"})


def describe_join(window_days: float) -> str:
    """The join rule in words, for the reports."""
    return (
        "an outcome with a request id labels the predictions answered under it (only its "
        "customer's, when it names one); an outcome with only a customer id labels that "
        f"customer's predictions made up to {window_days:g} days before it was observed; a "
        "prediction labelled twice takes the outcome observed first; a batch-scored "
        "prediction (score file) has no request id, so only customer-id outcomes label it"
    )


def open_outcome_store(
    location: Path | DatabaseUrl, window_days: float, lock_wait: float = LOCK_WAIT_S
) -> OutcomeStore:
    """The outcome store of a project, beside its inference log (``Settings.log_location``):
    in the SQLite file, or in the PostgreSQL database; a recording waits up to ``lock_wait``
    seconds for another one to finish."""
    if isinstance(location, DatabaseUrl):
        from churnops.outcomes.postgres import PostgresOutcomeStore  # the driver, only if used

        return PostgresOutcomeStore(location, window_days, lock_wait)
    return SqliteOutcomeStore(location, window_days, lock_wait)
