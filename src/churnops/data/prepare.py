"""Preparation: read any customer CSV, normalise it, check every rule, split clean from rejected.

Cleaning rules, applied in this order and always the same way:

1. Text cells are stripped; empty or whitespace-only cells are missing.
2. Numbers are parsed; text that is not a number is rejected (``tenure: not a number``).
3. Category spelling is normalised: case, spaces and punctuation are ignored and known aliases
   ("1 year", "bank transfer") map to the schema's category; anything else is an unknown
   category and is rejected.
4. The label accepts 0/1, true/false, yes/no (any case); other values or a blank are rejected.
5. One missing billing number is imputed from the other two: total = tenure × monthly,
   monthly = total / tenure, tenure = round(total / monthly). Two missing are rejected.
6. The declared schema (``FeatureSchema.pandera_schema``) then checks ranges, whole months,
   categories, labels, unique customer ids (the first row of an id is kept) and billing
   consistency. Each failing row goes to ``rejected.csv`` with every reason it failed.

Categorical *encoding* is not done here: it lives in the trained model pipeline, so the API
feeds raw features and training and serving cannot skew.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.csv as pa_csv

from churnops.atomic import atomic_write, atomic_write_json, sha256_file
from churnops.errors import BadInputError
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema, billing_consistent

LABEL_VALUES = {"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0, "yes": 1, "no": 0}
ALIASES = {
    "1year": "One year",
    "oneyear": "One year",
    "12months": "One year",
    "2year": "Two year",
    "twoyear": "Two year",
    "24months": "Two year",
    "monthly": "Month-to-month",
    "banktransfer": "Bank transfer (automatic)",
    "creditcard": "Credit card (automatic)",
}


def spelling_key(value: str) -> str:
    """Case, spaces and punctuation do not matter: 'Month to month' ~ 'month-to-month'."""
    return re.sub(r"[^a-z0-9]", "", value.lower()).removesuffix("s")


@dataclass
class Prepared:
    clean: pd.DataFrame
    rejected: pd.DataFrame
    report: dict[str, Any]
    passed: bool
    failure: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)


def read_raw(path: Path, missing_hint: str = "check the path") -> pd.DataFrame:
    """Every column as text, so nothing is guessed before the checks see it. Column names are
    matched without regard to case or surrounding spaces ("Churn " is ``churn``)."""
    if not path.exists():
        raise BadInputError(f"{path} does not exist; {missing_hint}")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path} is empty; give a CSV with a header row and customer rows")
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
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


def _numeric(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parsed numbers and a mask of cells that held text which is not a number."""
    stripped = text.str.strip()
    blank = stripped.isna() | (stripped == "")
    numbers = pd.to_numeric(stripped.where(~blank), errors="coerce").astype(float)
    return numbers, numbers.isna() & ~blank


def _categories(text: pd.Series, allowed: tuple[str, ...]) -> tuple[pd.Series, int]:
    """Canonical spellings (unknown values kept as given) and how many cells were respelled."""
    stripped = text.str.strip()
    canonical = {spelling_key(c): c for c in allowed}
    canonical.update({spelling_key(k): v for k, v in ALIASES.items() if v in allowed})
    uniques = stripped.dropna().unique()
    mapping = {u: canonical.get(spelling_key(u), u) for u in uniques if u != ""}
    result = stripped.map(mapping)
    respelled = int((result.notna() & (result != text)).sum())
    return result.astype(object), respelled


def _impute(frame: pd.DataFrame, eligible: pd.Series) -> dict[str, int]:
    """Fill one missing billing number from the other two, on ``eligible`` rows only."""
    tenure, monthly, total = frame["tenure"], frame["monthly_charges"], frame["total_charges"]
    rule_total = eligible & total.isna() & tenure.notna() & monthly.notna()
    rule_monthly = eligible & monthly.isna() & (tenure > 0) & total.notna()
    rule_tenure = eligible & tenure.isna() & (monthly > 0) & total.notna()
    frame.loc[rule_total, "total_charges"] = (tenure * monthly)[rule_total].round(2)
    frame.loc[rule_monthly, "monthly_charges"] = (total / tenure)[rule_monthly].round(2)
    frame.loc[rule_tenure, "tenure"] = (total / monthly)[rule_tenure].round()
    return {
        "total_charges": int(rule_total.sum()),
        "monthly_charges": int(rule_monthly.sum()),
        "tenure": int(rule_tenure.sum()),
    }


def _reason(row: pd.Series) -> str:
    check = str(row["check"])
    column = row["column"]
    if check == "not_nullable":
        return f"missing {column}"
    if check.startswith("in_range"):
        return f"{column} out of range"
    if check.startswith("isin"):
        return f"unknown {column}" if column != "churn" else "label not 0/1, true/false, yes/no"
    if check.endswith("uniqueness"):
        return "duplicate customer_id"
    if check == "whole number":
        return f"{column} not a whole number"
    return check


def schema_failures(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.Series:
    """Per failing row, every reason it broke a declared rule ('; '-joined)."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.dropna(subset=["index"])
        reasons = cases.apply(_reason, axis=1)
        table = pd.DataFrame({"index": cases["index"].astype(int), "reason": reasons})
        table = table.drop_duplicates()
        return table.groupby("index")["reason"].agg("; ".join)
    return pd.Series(dtype=object)


def prepare_frame(
    raw: pd.DataFrame, tolerance: float, schema: FeatureSchema = DEFAULT_SCHEMA
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Normalise ``raw`` (all text) and split it into clean and rejected rows, with counts."""
    required = [*schema.feature_names, schema.label]
    missing_columns = [c for c in required if c not in raw.columns]
    if missing_columns:
        raise BadInputError(
            f"missing required column(s): {', '.join(missing_columns)}; the CSV needs "
            f"{', '.join(required)} (and optionally {schema.id_column})"
        )
    frame = pd.DataFrame(index=raw.index)
    checks: dict[str, Any] = {
        "extra_columns_ignored": [c for c in raw.columns if c not in [*required, schema.id_column]]
    }
    if schema.id_column in raw.columns:
        frame[schema.id_column] = raw[schema.id_column].str.strip().replace("", None)
    else:
        frame[schema.id_column] = "row-" + pd.Series(raw.index + 1, index=raw.index).astype(str)
        checks["ids_assigned_from_row_numbers"] = True

    text_reasons = pd.Series("", index=raw.index, dtype=object)
    not_numeric: dict[str, int] = {}
    for name in schema.numeric_names:
        frame[name], bad_text = _numeric(raw[name])
        not_numeric[name] = int(bad_text.sum())
        text_reasons[bad_text] += f"{name} not a number; "
    checks["not_a_number"] = not_numeric
    checks["missing_before_imputation"] = {
        c: int(frame[c].isna().sum()) for c in schema.numeric_names
    }
    respelled: dict[str, int] = {}
    for cat in schema.categorical:
        frame[cat.name], respelled[cat.name] = _categories(raw[cat.name], cat.categories)
    checks["spelling_normalised"] = respelled

    label_text = raw[schema.label].str.strip().str.lower()
    label = label_text.map(LABEL_VALUES)
    invalid_label = label.isna() & (label_text != "")
    frame[schema.label] = label.where(~invalid_label, -1).astype(float)
    checks["label_values"] = {
        "0": int((label == 0).sum()),
        "1": int((label == 1).sum()),
        "missing": int((label_text == "").sum()),
        "invalid": int(invalid_label.sum()),
    }
    checks["imputed"] = _impute(frame, eligible=text_reasons == "")
    checks["missing_after_imputation"] = {c: int(frame[c].isna().sum()) for c in required}
    checks["out_of_range"] = {
        f.name: int(((frame[f.name] < f.min) | (frame[f.name] > f.max)).sum())
        for f in schema.numeric
    }
    checks["unknown_categories"] = {
        cat.name: {
            str(k): int(v)
            for k, v in frame[cat.name][
                frame[cat.name].notna() & ~frame[cat.name].isin(cat.categories)
            ]
            .value_counts()
            .head(20)
            .items()
        }
        for cat in schema.categorical
    }
    checks["duplicate_ids"] = int(frame[schema.id_column].duplicated(keep="first").sum())
    checks["inconsistent_total_charges"] = int((~billing_consistent(frame, tolerance)).sum())

    failures = schema_failures(frame, schema.pandera_schema(total_tolerance=tolerance))
    combined = text_reasons + failures.reindex(raw.index).fillna("")
    reasons = combined.str.strip().str.rstrip(";")
    reasons = reasons[reasons != ""]
    rejected_mask = frame.index.isin(reasons.index)
    rejected = raw[rejected_mask].copy()
    rejected.insert(0, "reason", reasons.reindex(rejected.index).to_numpy())
    clean = frame[~rejected_mask].copy()
    clean[schema.label] = clean[schema.label].astype(int)
    clean["tenure"] = clean["tenure"].astype(int)
    clean = clean[[schema.id_column, *schema.feature_names, schema.label]]
    return clean.reset_index(drop=True), rejected, checks


def _gate(clean: pd.DataFrame, rows: int, checks: dict[str, Any], max_rate: float) -> str | None:
    """Why the data may not be used for training, or None when it may."""
    labels = checks["label_values"]
    if labels["0"] + labels["1"] == 0:
        return "the label column has no usable value (0/1, true/false, yes/no)"
    rate = (rows - len(clean)) / rows
    if rate > max_rate:
        return (
            f"{rate:.1%} of rows were rejected, above the {max_rate:.1%} limit; "
            "see data/rejected.csv for the reasons, or raise --max-reject-rate"
        )
    if clean.empty or clean["churn"].nunique() < 2:
        return "the clean rows hold only one label value; a churn model needs both 0 and 1"
    return None


def prepare(
    input_path: Path, output_dir: Path, max_reject_rate: float, tolerance: float
) -> Prepared:
    """Run every check on ``input_path``; write the report, the rejects and (if it passes) the data.

    ``processed.csv`` is only replaced when the quality gate passes.
    """
    raw = read_raw(input_path, "run `churnops generate` first or pass --input FILE")
    clean, rejected, checks = prepare_frame(raw, tolerance)
    reasons: dict[str, int] = {}
    for text in rejected["reason"]:
        for reason in str(text).split("; "):
            reasons[reason] = reasons.get(reason, 0) + 1
    failure = _gate(clean, len(raw), checks, max_reject_rate)
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
        "churn_rate": float(clean["churn"].mean()) if len(clean) else None,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    _write_csv(rejected, output_dir / "rejected.csv")
    atomic_write_json(output_dir / "quality_report.json", report)
    if failure is None:
        _write_csv(clean, output_dir / "processed.csv")
    return Prepared(clean, rejected, report, failure is None, failure, reasons)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    table = pa_arrow.Table.from_pandas(frame, preserve_index=False)
    options = pa_csv.WriteOptions(quoting_style="needed")
    atomic_write(path, lambda tmp: pa_csv.write_csv(table, tmp, write_options=options))
