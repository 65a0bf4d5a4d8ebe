"""``churnops init``: read a customer CSV and draft the project file that describes it.

Each column gets one decision, with the reason shown to the user:

- the label: ``--label``, else the one column named like churn / exited / attrition with two
  values; its churned value is 1, yes or true, else the word that says so, else the rarer one;
- the id: ``--id``, else a column named like an id whose values are (95 %) all different;
- numbers (at least 95 % of the filled cells are numbers; blanks are missing, not text):
  ``int`` or ``float``, allowed range = observed range widened by ``MARGIN`` of its span on each
  side, never below 0 when no value is negative (under ``RARE`` negative values are taken for
  typos and left out of the range); a 0/1 column is a categorical flag;
- text with at most ``MAX_CATEGORIES`` spellings (case, spaces and punctuation ignored, the
  most frequent spelling kept): categorical, with each category's count; a rare spelling that
  begins one category ('credit card') becomes its alias;
- left out, and listed: empty or constant columns, whole numbers that are all different (row
  numbers, numeric ids) and text with too many distinct values (ids, names, free text).

A product rule (``C ≈ A × B``, such as total ≈ tenure × monthly charges) is proposed when a
whole-number column times a decimal column gives a third decimal column on 99 % of the rows.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from churnops.data.prepare import read_header, read_raw
from churnops.errors import BadInputError
from churnops.project import NAME_PATTERN, RESERVED_NAMES, parse_project
from churnops.schema import CUSTOMER_ID_PATTERN, FeatureSchema, label_key, spelling_key

MARGIN = 0.10
MAX_CATEGORIES = 50
RARE = 0.01
NUMERIC_SHARE = 0.95
RULE_SHARE = 0.99
RULE_TOLERANCE = 0.25
LABEL_NAMES = re.compile(r"churn|exit|attrit|cancel")
CHURNED_WORDS = re.compile(r"^(1|yes|y|true|t)$|churn|exit|attrit|cancel|left|lost|closed")
ID_NAMES = re.compile(r"(^|_)id$|^(customer|client|account|user)(_?(number|no|key|code))?$")


@dataclass(frozen=True)
class Decision:
    """What one CSV column becomes, and why."""

    column: str  # the header as written in the CSV
    role: str  # id, label, int, float, categorical or left out
    why: str
    name: str = ""  # the feature's name (the key the API uses)
    low: float = 0.0  # allowed range (numeric)
    high: float = 0.0
    observed: str = ""  # the range seen (numeric)
    categories: tuple[tuple[str, int], ...] = ()  # (category, rows), most frequent first
    aliases: dict[str, str] = field(default_factory=dict)  # a rare spelling -> its category


@dataclass(frozen=True)
class Label:
    column: str
    churned: tuple[str, int]  # (value as written, rows)
    stayed: tuple[str, int]


@dataclass(frozen=True)
class Rule:
    result: str
    factors: tuple[str, str]
    share: float  # of complete rows that satisfy it


@dataclass
class Draft:
    source: Path
    rows: int
    label: Label
    decisions: list[Decision] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)

    @property
    def features(self) -> list[Decision]:
        return [d for d in self.decisions if d.role in ("int", "float", "categorical")]

    @property
    def id_column(self) -> str | None:
        return next((d.column for d in self.decisions if d.role == "id"), None)


# ---- names and values ------------------------------------------------------------------------
def feature_name(header: str) -> str:
    """A header as a feature name: 'MonthlyCharges' -> monthly_charges, 'customerID' ->
    customer_id, 'StreamingTV' -> streaming_tv, 'Credit Score' -> credit_score."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", header.strip())
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower()
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_") or "column"
    if not text[0].isalpha():
        text = f"f_{text}"
    return text[:64]


def _spellings(values: pd.Series) -> tuple[list[tuple[str, int]], dict[str, str]]:
    """Categories as (most frequent spelling, rows), most rows first, and aliases: a rare
    spelling (under ``RARE`` of the rows) whose letters begin exactly one more frequent
    category's ('credit card' for 'Credit card (automatic)')."""
    groups: dict[str, tuple[str, int]] = {}
    for value, count in values.value_counts().items():
        key = spelling_key(str(value))
        spelling, total = groups.get(key, (str(value), 0))
        groups[key] = (spelling, total + int(count))
    rows = len(values)
    categories: dict[str, int] = {}
    aliases: dict[str, str] = {}
    # the categories whose key begins with each prefix (of 3+ letters): a lookup per spelling,
    # not a scan of every category (quadratic: a minute on 6,000 distinct balances)
    beginning: dict[str, list[str]] = {}
    for key, (spelling, count) in sorted(
        groups.items(), key=lambda item: (-item[1][1], item[1][0])
    ):
        targets = beginning.get(key, [])
        if count < RARE * rows and len(key) >= 3 and len(targets) == 1:
            aliases[spelling] = targets[0]
            categories[targets[0]] += count
        else:
            categories[spelling] = count
            for end in range(3, len(key) + 1):
                beginning.setdefault(key[:end], []).append(spelling)
    ordered = sorted(categories.items(), key=lambda pair: (-pair[1], pair[0]))
    return ordered, aliases


def _range(numbers: np.ndarray, whole: bool) -> tuple[float, float]:
    """The observed range widened by ``MARGIN`` of its span (not below 0 if nothing is)."""
    low, high = float(numbers.min()), float(numbers.max())
    margin = MARGIN * (high - low) or max(MARGIN * abs(high), 1.0)
    lower = low - margin if low < 0 else max(low - margin, 0.0)
    upper = high + margin
    if whole:
        return float(math.floor(lower)), float(math.ceil(upper))
    return math.floor(lower * 100) / 100, math.ceil(upper * 100) / 100


# ---- one column ----------------------------------------------------------------------------------
def _numeric_decision(header: str, name: str, numbers: np.ndarray, bad: int) -> Decision:
    whole = bool(np.all(numbers == np.round(numbers)))
    distinct = np.unique(numbers)
    if len(distinct) == 2 and set(distinct.tolist()) <= {0.0, 1.0}:
        counts = tuple((str(int(v)), int((numbers == v).sum())) for v in distinct)
        return Decision(header, "categorical", "a 0/1 flag", name, categories=counts)
    if whole and len(distinct) == len(numbers) and len(numbers) >= 20:
        return Decision(header, "left out", "whole numbers, all different: a row number or id")
    negative = numbers < 0
    stray = int(negative.sum()) if negative.mean() < RARE else 0  # typos and sentinels
    kept = numbers[~negative] if stray else numbers
    low, high = _range(kept, whole)
    observed = f"{_number(kept.min())} to {_number(kept.max())}"
    why = f"{'whole numbers' if whole else 'numbers'} {observed}"
    if stray:
        why += f"; {stray:,} negative value(s) left out of the range (prepare rejects them)"
    if bad:
        why += f"; {bad:,} cell(s) not numbers (prepare rejects them)"
    return Decision(header, "int" if whole else "float", why, name, low, high, observed)


def _decide(header: str, name: str, text: pd.Series) -> Decision:
    values = text.str.strip()
    filled = values[values != ""]
    if filled.empty:
        return Decision(header, "left out", "empty")
    numbers = pd.to_numeric(filled, errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(numbers)
    spellings, aliases = _spellings(filled)
    if len(spellings) == 1:
        return Decision(header, "left out", f"one value only ({spellings[0][0]!r})")
    if finite.mean() >= NUMERIC_SHARE:
        return _numeric_decision(header, name, numbers[finite], int((~finite).sum()))
    if len(spellings) > MAX_CATEGORIES:
        return Decision(
            header, "left out", f"text, {len(spellings):,} distinct values: an id or free text"
        )
    shown = ", ".join(value for value, _rows in spellings[:3])
    why = f"{len(spellings)} values: {shown}" + (", …" if len(spellings) > 3 else "")
    return Decision(header, "categorical", why, name, categories=tuple(spellings), aliases=aliases)


# ---- label, id, rules ----------------------------------------------------------------------------
def _two_values(frame: pd.DataFrame, column: str) -> list[tuple[str, int]]:
    """(most frequent spelling, rows) per label value (compared as ``label_key``)."""
    values = frame[column].str.strip()
    filled = values[values != ""]
    keys = filled.map(label_key)
    spelled = {str(k): str(v.value_counts().index[0]) for k, v in filled.groupby(keys)}
    return [(spelled[str(k)], int(n)) for k, n in keys.value_counts().items()]


def _find_label(frame: pd.DataFrame, headers: dict[str, str], given: str | None) -> Label:
    if given is not None:
        column = _column(headers, given, "--label")
        values = _two_values(frame, column)
        if len(values) != 2:
            raise BadInputError(
                f"--label {given} has {len(values)} distinct value(s); a churn label needs two"
            )
    else:
        candidates = [
            c for c in frame.columns if LABEL_NAMES.search(c) and len(_two_values(frame, c)) == 2
        ]
        if len(candidates) != 1:
            found = f" ({', '.join(headers[c] for c in candidates)})" if candidates else ""
            raise BadInputError(
                f"cannot tell which column is the churn label{found}; name it with --label COLUMN"
            )
        column = candidates[0]
        values = _two_values(frame, column)
    first, second = values
    churned = next((v for v in values if CHURNED_WORDS.search(label_key(v[0]))), None)
    churned = churned or min(values, key=lambda v: v[1])
    stayed = second if churned == first else first
    return Label(headers[column], churned, stayed)


def _column(headers: dict[str, str], given: str, option: str) -> str:
    key = given.strip().lower()
    if key not in headers:
        raise BadInputError(
            f"{option} {given}: no such column; the CSV has {', '.join(headers.values())}"
        )
    return key


def _unique_values(frame: pd.DataFrame, column: str) -> bool:
    """Nearly every row holds a value of its own (a few repeats are rows prepare rejects)."""
    values = frame[column].str.strip()
    filled = values[values != ""]
    return len(filled) >= 0.95 * len(values) and filled.nunique() >= 0.95 * len(filled)


def _find_id(frame: pd.DataFrame, headers: dict[str, str], given: str | None) -> str | None:
    """``--id``, else the first column named like an id whose values are all different."""
    if given is not None:
        return _column(headers, given, "--id")
    named = [c for c in frame.columns if ID_NAMES.search(feature_name(headers[c]))]
    return next((c for c in named if _unique_values(frame, c)), None)


def _id_decision(frame: pd.DataFrame, column: str, header: str) -> Decision:
    values = frame[column].str.strip()
    repeated = int(values.duplicated().sum())
    why = "the customer id" + (
        f"; {repeated:,} blank or repeated (prepare rejects them)"
        if repeated
        else ": every value different"
    )
    invalid = int((~values.str.fullmatch(CUSTOMER_ID_PATTERN)).sum())
    if invalid:
        why += f"; {invalid:,} do not fit the API's id rule (prepare rejects them)"
    return Decision(header, "id", why)


def _find_rules(
    frame: pd.DataFrame, decisions: list[Decision], headers: dict[str, str]
) -> list[Rule]:
    """Rules ``C ≈ A × B`` with A whole numbers and B, C decimals, holding on 99 % of rows."""
    by_role: dict[str, list[Decision]] = {"int": [], "float": []}
    for decision in decisions:
        if decision.role in by_role:
            by_role[decision.role].append(decision)
    keys = {headers[k]: k for k in headers}

    def numbers(d: Decision) -> pd.Series:
        return pd.to_numeric(frame[keys[d.column]].str.strip(), errors="coerce")

    rules = []
    for a in by_role["int"]:
        for b in by_role["float"]:
            for c in by_role["float"]:
                if c is b:
                    continue
                x, y, z = numbers(a), numbers(b), numbers(c)
                complete = x.notna() & y.notna() & z.notna() & (x * y > 0)
                if complete.sum() < 20:
                    continue
                expected = (x * y)[complete]
                gap = (z[complete] - expected).abs()
                share = float((gap <= np.maximum(RULE_TOLERANCE * expected, y[complete])).mean())
                if share >= RULE_SHARE:
                    rules.append(Rule(c.name, (a.name, b.name), share))
    return rules


def draft_project(source: Path, label: str | None, id_column: str | None) -> Draft:
    """Read ``source`` and decide what each column becomes."""
    frame = read_raw(source)
    headers = dict(zip(frame.columns, (h.strip() for h in read_header(source)), strict=True))
    draft = Draft(source, len(frame), _find_label(frame, headers, label))
    id_key = _find_id(frame, headers, id_column)
    names: set[str] = {"customer_id", "churn", *RESERVED_NAMES}
    for column, header in headers.items():
        if header == draft.label.column:
            why = f"churned = {draft.label.churned[0]!r}"
            draft.decisions.append(Decision(header, "label", why))
        elif column == id_key:
            draft.decisions.append(_id_decision(frame, column, header))
        else:
            decision = _decide(header, _unique_name(feature_name(header), names), frame[column])
            names.add(decision.name)
            draft.decisions.append(decision)
    draft.rules = _find_rules(frame, draft.decisions, headers)
    return draft


def _unique_name(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken or not NAME_PATTERN.fullmatch(candidate):
        candidate = f"{name[:60]}_{number}"
        number += 1
    return candidate


# ---- the file ------------------------------------------------------------------------------------
def _scalar(value: str | float) -> str:
    """A YAML scalar, quoted only when needed ('Yes', '0' and 'a: b' are; One year is not)."""
    dumped = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1 << 20)
    return dumped.removesuffix("\n...\n").strip()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def render(draft: Draft) -> str:
    """The project file text: one block per feature, counts and observed ranges as comments."""
    left_out = [f"{d.column} ({d.why})" for d in draft.decisions if d.role == "left out"]
    lines = [
        f"# churnops project file, drafted by `churnops init` from {draft.source.name}",
        f"# ({draft.rows:,} rows). Review it: name is the key the API and the reports use,",
        "# column the CSV header it is read from. Ranges are the observed ones widened by",
        f"# {MARGIN:.0%} of their span on each side (never below 0 when no value is negative).",
    ]
    lines += [f"# Left out: {text}" for text in left_out]
    lines.append("")
    if draft.id_column:
        lines.append(f"id: {_scalar(draft.id_column)}")
    label = draft.label
    lines += [
        "label:",
        f"  column: {_scalar(label.column)}",
        f"  churned: [{_scalar(label.churned[0])}]  # {label.churned[1]:,} rows",
        f"  stayed: [{_scalar(label.stayed[0])}]  # {label.stayed[1]:,} rows",
        "features:",
    ]
    for decision in draft.features:
        lines += _feature_lines(decision)
    if draft.rules:
        lines.append("rules:")
    for rule in draft.rules:
        first, second = rule.factors
        lines += [
            f"  # {rule.result} ≈ {first} × {second} on {rule.share:.1%} of the complete rows",
            "  - type: product",
            f"    result: {rule.result}",
            f"    factors: [{first}, {second}]",
            f"    tolerance: {RULE_TOLERANCE}  # relative gap allowed",
            f"    slack: {second}  # a gap of one {second} is always allowed",
            "    impute: true  # one missing number of the three is computed from the others",
        ]
    return "\n".join(lines) + "\n"


def _feature_lines(decision: Decision) -> list[str]:
    lines = [f"  - name: {decision.name}"]
    if decision.column.lower() != decision.name:
        lines.append(f"    column: {_scalar(decision.column)}")
    lines.append(f"    type: {decision.role}")
    if decision.role == "categorical":
        lines.append("    categories:")
        lines += [f"      - {_scalar(c)}  # {n:,} rows" for c, n in decision.categories]
        if decision.aliases:
            lines.append("    aliases:  # rare spellings, read as the category they begin")
            lines += [f"      {_scalar(a)}: {_scalar(c)}" for a, c in decision.aliases.items()]
    else:
        lines += [
            f"    min: {_number(decision.low)}",
            f"    max: {_number(decision.high)}  # seen: {decision.observed}",
        ]
    return lines


def schema_of(text: str) -> FeatureSchema:
    """The schema the drafted text declares (proves the draft is a valid project file)."""
    return parse_project(text, "the drafted project file")
