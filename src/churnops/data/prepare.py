"""Preparation: read any customer CSV, normalise it, check every rule, split clean from rejected.

What a row must look like comes from the feature schema (the project file, or the built-in
one). Cleaning rules, applied in this order and always the same way:

1. Each column is read from the CSV column the schema names (headers in any case).
2. Text cells are stripped; empty or whitespace-only cells are missing.
3. Numbers are parsed; text that is not a number is rejected (``tenure: not a number``).
4. Category spelling is normalised: case, spaces and punctuation are ignored and the declared
   aliases ("1 year", "bank transfer") map to their category; anything else is an unknown
   category and is rejected.
5. The label's declared values (by default 0/1, true/false, yes/no; any case) become 1 or 0;
   other values or a blank are rejected.
6. Each declared product rule with imputation fills one missing number of its three from the
   other two (built-in: total = tenure × monthly, monthly = total / tenure,
   tenure = round(total / monthly)). Two missing are rejected.
7. The declared schema (``FeatureSchema.pandera_schema``) then checks ranges, whole numbers,
   categories, labels, customer ids (the API's pattern; unique, the first row of an id is
   kept) and the declared rules. Each failing row goes to ``rejected.csv`` with every reason
   it failed.

Rules 2–4 are ``churnops.data.cells``, which the API applies to request values too.

Categorical *encoding* is not done here: it lives in the trained model pipeline, so the API
feeds raw features and training and serving cannot skew.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa_arrow
import pyarrow.csv as pa_csv

from churnops.atomic import atomic_write, atomic_write_json, sha256_file
from churnops.data import cells
from churnops.errors import BadInputError
from churnops.schema import (
    DEFAULT_SCHEMA,
    CategoricalFeature,
    FeatureSchema,
    ProductRule,
    label_key,
)
from churnops.schema import spelling_key as spelling_key  # re-exported
from churnops.spreadsheet import neutralise_formulas


@contextmanager
def quiet_pyspark() -> Iterator[None]:
    """Where pandera imports PySpark — if installed (churnops[spark]) — which warns it does not
    fully support pandas 3: noise about code churnops does not use."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully", FutureWarning)
        yield


with quiet_pyspark():
    import pandera.pandas as pa

# The built-in schema's aliases (spelling -> category).
ALIASES = {alias: c for f in DEFAULT_SCHEMA.categorical for alias, c in f.aliases.items()}
# Refused before parsing: a hostile header (millions of columns on one line) would otherwise
# cost minutes and gigabytes before any check could say what is wrong.
MAX_HEADER_BYTES = 1 << 20
MAX_COLUMNS = 10_000


@dataclass
class Prepared:
    clean: pd.DataFrame
    rejected: pd.DataFrame
    report: dict[str, Any]
    passed: bool
    failure: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)


def read_header(path: Path) -> list[str]:
    """The header row, read from at most ``MAX_HEADER_BYTES`` characters of the file."""
    with open(path, encoding="utf-8", newline="") as handle:
        head = handle.read(MAX_HEADER_BYTES + 1)
    if len(head) > MAX_HEADER_BYTES and not any(end in head[:MAX_HEADER_BYTES] for end in "\r\n"):
        raise BadInputError(
            f"{path}: the header line is longer than {MAX_HEADER_BYTES:,} characters; "
            "is it really a customer table? Give a CSV with one header row"
        )
    header = next(csv.reader(io.StringIO(head)), [])
    if len(header) > MAX_COLUMNS:
        raise BadInputError(
            f"{path} has {len(header):,} columns, more than the {MAX_COLUMNS:,} churnops reads; "
            "keep the columns you need"
        )
    return header


def read_raw(path: Path, missing_hint: str = "check the path") -> pd.DataFrame:
    """Every column as text, so nothing is guessed before the checks see it. Column names are
    matched without regard to case or surrounding spaces ("Churn " is ``churn``)."""
    if not path.exists():
        raise BadInputError(f"{path} does not exist; {missing_hint}")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path} is empty; give a CSV with a header row and customer rows")
    try:
        header = read_header(path)
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=1 << 24),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa_arrow.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
                auto_dict_encode=False,
            ),
        )
    except (pa_arrow.ArrowInvalid, UnicodeDecodeError, csv.Error) as exc:
        first_line = str(exc).splitlines()[0]
        raise BadInputError(
            f"{path} is not a readable CSV ({first_line}); export it as a UTF-8 CSV"
        ) from exc
    names = [str(c).strip().lower() for c in table.column_names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BadInputError(f"{path} repeats column(s) {', '.join(repeated)}; keep one of each")
    frame: pd.DataFrame = table.to_pandas()
    frame.columns = names
    if frame.empty:
        raise BadInputError(f"{path} has a header but no rows; give a CSV with customer rows")
    return frame


def _impute(
    frame: pd.DataFrame, rule: ProductRule, schema: FeatureSchema, eligible: pd.Series
) -> dict[str, int]:
    """Fill one missing number of ``result = first × second`` from the other two, on
    ``eligible`` rows only; whole numbers for int features, cents for the others."""
    first, second = rule.factors
    result, a, b = frame[rule.result], frame[first], frame[second]
    fill_result = eligible & result.isna() & a.notna() & b.notna()
    fill_second = eligible & b.isna() & (a > 0) & result.notna()
    fill_first = eligible & a.isna() & (b > 0) & result.notna()

    def places(name: str) -> int:
        return 0 if name in schema.int_names else 2

    frame[rule.result] = result.mask(fill_result, (a * b).round(places(rule.result)))
    frame[second] = b.mask(fill_second, (result / a).round(places(second)))
    frame[first] = a.mask(fill_first, (result / b).round(places(first)))
    return {
        rule.result: int(fill_result.sum()),
        second: int(fill_second.sum()),
        first: int(fill_first.sum()),
    }


def _reason(row: pd.Series, schema: FeatureSchema) -> str:
    check = str(row["check"])
    column = row["column"]
    if check == "not_nullable":
        return f"missing {column}"
    if check.startswith("in_range"):
        return f"{column} out of range"
    if check.startswith("isin"):
        if column == schema.label:
            return f"label not {schema.label_values.describe()}"
        return f"unknown {column}"
    if check.endswith("uniqueness"):
        return f"duplicate {schema.id_column}"
    if check == "whole number":
        return f"{column} not a whole number"
    return check


def schema_failures(
    frame: pd.DataFrame, schema: FeatureSchema, with_rules: bool = True, labelled: bool = True
) -> pd.Series:
    """Per failing row, every reason it broke a declared rule ('; '-joined)."""
    try:
        with quiet_pyspark():
            schema.pandera_schema(with_rules, labelled).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.dropna(subset=["index"])
        reasons = cases.apply(_reason, axis=1, schema=schema)
        table = pd.DataFrame({"index": cases["index"].astype(int), "reason": reasons})
        table = table.drop_duplicates()
        return table.groupby("index")["reason"].agg("; ".join)
    return pd.Series(dtype=object)


def _require_columns(raw: pd.DataFrame, schema: FeatureSchema, labelled: bool) -> dict[str, str]:
    """The CSV column of each prepared column; refuses a table that lacks one."""
    sources = schema.sources()
    required = [*schema.feature_names, schema.label] if labelled else schema.feature_names
    missing = [name for name in required if sources[name] not in raw.columns]
    if missing:

        def shown(name: str) -> str:
            return name if sources[name] == name else f"{sources[name]} (for {name})"

        raise BadInputError(
            f"missing required column(s): {', '.join(map(shown, missing))}; add them to the CSV "
            f"({shown(schema.id_column)} is optional)"
        )
    return sources


def _labels(text: pd.Series, schema: FeatureSchema) -> tuple[pd.Series, dict[str, int]]:
    """The label as 1.0 / 0.0, -1.0 for a value that is not declared, NaN when blank."""
    stripped = text.str.strip()
    declared = schema.label_values.mapping()
    mapping = {u: declared.get(label_key(u)) for u in stripped.dropna().unique()}
    label = stripped.map(mapping).astype(float)
    blank = stripped.isna() | (stripped == "")
    invalid = label.isna() & ~blank
    counts = {
        "0": int((label == 0).sum()),
        "1": int((label == 1).sum()),
        "missing": int(blank.sum()),
        "invalid": int(invalid.sum()),
    }
    return label.where(~invalid, -1), counts


def _normalised(
    raw: pd.DataFrame,
    schema: FeatureSchema,
    sources: dict[str, str],
    checks: dict[str, Any],
    labelled: bool,
) -> tuple[pd.DataFrame, pd.Series]:
    """Rules 1–6: the typed table, and per row the cells that were text but not numbers."""
    frame = pd.DataFrame(index=raw.index)
    id_source = sources[schema.id_column]
    if id_source in raw.columns:
        frame[schema.id_column] = raw[id_source].str.strip().replace("", None)
    else:
        frame[schema.id_column] = "row-" + pd.Series(raw.index + 1, index=raw.index).astype(str)
        checks["ids_assigned_from_row_numbers"] = True
    text_reasons = pd.Series("", index=raw.index, dtype=object)
    not_numeric: dict[str, int] = {}
    for name in schema.numeric_names:
        frame[name], bad_text = cells.numbers(raw[sources[name]])
        not_numeric[name] = int(bad_text.sum())
        text_reasons[bad_text] += f"{name} not a number; "
    checks["not_a_number"] = not_numeric
    checks["missing_before_imputation"] = {
        c: int(frame[c].isna().sum()) for c in schema.numeric_names
    }
    respelled: dict[str, int] = {}
    for cat in schema.categorical:
        frame[cat.name], respelled[cat.name] = cells.categories(raw[sources[cat.name]], cat)
    checks["spelling_normalised"] = respelled
    if labelled:
        frame[schema.label], checks["label_values"] = _labels(raw[sources[schema.label]], schema)
    imputed: dict[str, int] = {}
    for rule in (rule for rule in schema.rules if rule.impute):
        for name, count in _impute(frame, rule, schema, text_reasons == "").items():
            imputed[name] = imputed.get(name, 0) + count
    checks["imputed"] = imputed
    return frame, text_reasons


def _count_problems(frame: pd.DataFrame, schema: FeatureSchema) -> dict[str, Any]:
    """What the declared rules will find, counted per check for the quality report."""
    required = [*schema.feature_names, schema.label]
    counts: dict[str, Any] = {
        "missing_after_imputation": {c: int(frame[c].isna().sum()) for c in required},
        "out_of_range": {
            f.name: int(((frame[f.name] < f.min) | (frame[f.name] > f.max)).sum())
            for f in schema.numeric
        },
        "unknown_categories": {
            cat.name: _unknown(frame[cat.name], cat) for cat in schema.categorical
        },
        "duplicate_ids": int(frame[schema.id_column].duplicated(keep="first").sum()),
    }
    for rule in schema.rules:
        counts[f"inconsistent_{rule.result}"] = int((~rule.consistent(frame)).sum())
    return counts


def prepare_frame(
    raw: pd.DataFrame, schema: FeatureSchema = DEFAULT_SCHEMA, labelled: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Normalise ``raw`` (all text) and split it into clean and rejected rows, with counts.

    ``labelled=False`` reads rows to score: no label column, and no uniqueness check across
    rows (see ``FeatureSchema.pandera_schema``); every other rule is the same.
    """
    sources = _require_columns(raw, schema, labelled)
    checks: dict[str, Any] = {
        "extra_columns_ignored": [c for c in raw.columns if c not in sources.values()]
    }
    frame, text_reasons = _normalised(raw, schema, sources, checks, labelled)
    if labelled:  # the quality report's counts; scoring reports its rejections only
        checks |= _count_problems(frame, schema)
    failures = schema_failures(frame, schema, labelled=labelled)
    combined = text_reasons + failures.reindex(raw.index).fillna("")
    combined = combined[combined != ""]  # the few failing rows: string methods are per cell
    reasons = combined.str.strip().str.rstrip(";")
    reasons = reasons[reasons != ""]
    rejected_mask = frame.index.isin(reasons.index)
    rejected = raw[rejected_mask].copy()
    rejected.insert(0, "reason", reasons.reindex(rejected.index).to_numpy())
    clean = frame[~rejected_mask].copy()
    kept = [schema.label] if labelled else []
    for name in [*kept, *schema.int_names]:
        clean[name] = clean[name].astype(int)
    clean = clean[[schema.id_column, *schema.feature_names, *kept]]
    return clean.reset_index(drop=True), rejected, checks


def _unknown(values: pd.Series, feature: CategoricalFeature) -> dict[str, int]:
    """The 20 most frequent values that are not a category, with their counts."""
    unknown = values[values.notna() & ~values.isin(feature.categories)]
    return {str(k): int(v) for k, v in unknown.value_counts().head(20).items()}


def _gate(
    clean: pd.DataFrame, rows: int, checks: dict[str, Any], max_rate: float, schema: FeatureSchema
) -> str | None:
    """Why the data may not be used for training, or None when it may."""
    labels = checks["label_values"]
    if labels["0"] + labels["1"] == 0:
        return (
            f"the label column has no usable value ({schema.label_values.describe()}); "
            "check label: in the project file"
        )
    rate = (rows - len(clean)) / rows
    if rate > max_rate:
        return (
            f"{rate:.1%} of rows were rejected, above the {max_rate:.1%} limit; "
            "see data/rejected.csv for the reasons, or raise --max-reject-rate"
        )
    if clean.empty or clean[schema.label].nunique() < 2:
        return "the clean rows hold only one label value; a churn model needs both 0 and 1"
    return None


GENERATE_FIRST = "run `churnops generate` first or pass --input FILE"


def prepare(
    input_path: Path,
    output_dir: Path,
    max_reject_rate: float,
    schema: FeatureSchema = DEFAULT_SCHEMA,
    missing_hint: str = GENERATE_FIRST,
) -> Prepared:
    """Run every check on ``input_path``; write the report, the rejects and (if it passes) the data.

    ``processed.csv`` is only replaced when the quality gate passes. ``missing_hint`` is what
    to do when ``input_path`` does not exist.
    """
    raw = read_raw(input_path, missing_hint)
    clean, rejected, checks = prepare_frame(raw, schema)
    reasons: dict[str, int] = {}
    for text in rejected["reason"]:
        for reason in str(text).split("; "):
            reasons[reason] = reasons.get(reason, 0) + 1
    failure = _gate(clean, len(raw), checks, max_reject_rate, schema)
    report = {
        "input": str(input_path),
        "input_sha256": sha256_file(input_path),
        "rows_read": len(raw),
        "rows_clean": len(clean),
        "rows_rejected": len(rejected),
        "reject_rate": len(rejected) / len(raw),
        "gate": {"max_reject_rate": max_reject_rate, "passed": failure is None, "reason": failure},
        "checks": checks,
        "rejections_by_reason": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "churn_rate": float(clean[schema.label].mean()) if len(clean) else None,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    # rejected.csv is for people, who open it in a spreadsheet: formulas made inert
    _write_csv(neutralise_formulas(rejected), output_dir / "rejected.csv")
    atomic_write_json(output_dir / "quality_report.json", report)
    if failure is None:
        _write_csv(clean, output_dir / "processed.csv")
    return Prepared(clean, rejected, report, failure is None, failure, reasons)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    table = pa_arrow.Table.from_pandas(frame, preserve_index=False)
    options = pa_csv.WriteOptions(quoting_style="needed")
    atomic_write(path, lambda tmp: pa_csv.write_csv(table, tmp, write_options=options))
