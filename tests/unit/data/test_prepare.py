"""Preparation: each cleaning rule, each check's count, the rejects file and the quality gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from churnops.data.prepare import prepare, prepare_frame, read_raw
from churnops.errors import BadInputError
from churnops.model.train import load_processed
from churnops.schema import DEFAULT_SCHEMA

BASE = {
    "customer_id": "C1",
    "tenure": "12",
    "monthly_charges": "50.00",
    "total_charges": "600.00",
    "contract_type": "One year",
    "payment_method": "Mailed check",
    "churn": "0",
}
HEADER = ",".join(BASE)
OUTPUT_COLUMNS = [DEFAULT_SCHEMA.id_column, *DEFAULT_SCHEMA.feature_names, DEFAULT_SCHEMA.label]


def rows(*changes: dict[str, str]) -> pd.DataFrame:
    """Raw text rows: the valid base row with each change applied, one customer id each."""
    records = [{**BASE, "customer_id": f"C{i}", **change} for i, change in enumerate(changes)]
    return pd.DataFrame(records, dtype="str")


def prepared(*changes: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    return prepare_frame(rows(*changes))


def only_clean_row(change: dict[str, str]) -> pd.Series:
    clean, rejected, _ = prepared(change)
    assert rejected.empty, rejected["reason"].tolist()
    return clean.iloc[0]


def only_reason(change: dict[str, str]) -> str:
    clean, rejected, _ = prepared(change)
    assert clean.empty
    return str(rejected["reason"].iloc[0])


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---- reading -------------------------------------------------------------------------------
def test_reads_blanks_and_text_as_they_are(tmp_path: Path) -> None:
    """It reads cells as text: blanks stay blank (not NaN) and stray text reaches the rules."""
    path = write(tmp_path / "in.csv", f"{HEADER}\nC1,twelve,50,,One year,Mailed check,1\n")
    frame = read_raw(path)
    assert frame.loc[0, "tenure"] == "twelve"
    assert frame.loc[0, "total_charges"] == ""


def test_strips_header_names(tmp_path: Path) -> None:
    """It ignores spaces around column names."""
    header = ", ".join(f" {name}" for name in BASE)
    path = write(tmp_path / "in.csv", f"{header}\nC1,12,50,600,One year,Mailed check,1\n")
    assert list(read_raw(path).columns) == list(BASE)


def test_keeps_customer_ids_as_written(tmp_path: Path) -> None:
    """It keeps customer ids exactly as written: 007 and 7 are two customers."""
    body = "007,12,50,600,One year,Mailed check,0\n7,12,50,600,One year,Mailed check,1\n"
    path = write(tmp_path / "in.csv", f"{HEADER}\n{body}")
    assert read_raw(path)["customer_id"].tolist() == ["007", "7"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (HEADER.encode() + b"\n", "no rows"),
        (b"hello, world\nthis is,not, a csv\n", "not a readable CSV"),
        (b"\n\n\n", "not a readable CSV"),
    ],
    ids=["empty", "header-only", "ragged", "blank-lines"],
)
def test_refuses_unreadable_files(tmp_path: Path, content: bytes, message: str) -> None:
    """It refuses an empty, header-only or non-CSV file with a one-line BadInputError."""
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match=message) as caught:
        read_raw(path)
    assert "\n" not in str(caught.value)


def test_refuses_a_missing_file(tmp_path: Path) -> None:
    """It says the file is missing and how to get one."""
    with pytest.raises(BadInputError, match="does not exist"):
        read_raw(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xf0\x9f\x00garbage",
        (HEADER + "\nC1,12,50,600,Caf\xe9,Mailed check,1\n").encode("latin-1"),
    ],
    ids=["binary", "latin-1"],
)
def test_refuses_non_utf8_files_with_bad_input(tmp_path: Path, content: bytes) -> None:
    """It refuses binary garbage or a Latin-1 export as bad input, not with a traceback."""
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(BadInputError):
        prepare_frame(read_raw(path))


def test_refuses_repeated_column_names(tmp_path: Path) -> None:
    """It refuses a CSV that names a column twice as bad input."""
    path = write(tmp_path / "in.csv", f"{HEADER},tenure\nC1,12,50,600,One year,Mailed check,1,3\n")
    with pytest.raises(BadInputError, match="tenure"):
        prepare_frame(read_raw(path))


# ---- columns -------------------------------------------------------------------------------
def test_names_every_missing_required_column() -> None:
    """It refuses a table without required columns and names each one."""
    raw = rows({}).drop(columns=["tenure", "churn"])
    with pytest.raises(BadInputError, match="missing required column") as caught:
        prepare_frame(raw)
    assert "tenure" in str(caught.value)
    assert "churn" in str(caught.value)


def test_names_each_missing_column_once() -> None:
    """The refusal names each missing column once (it listed them again among every required
    column), and no column that is there."""
    raw = rows({}).drop(columns=["contract_type", "payment_method"])
    with pytest.raises(BadInputError) as caught:
        prepare_frame(raw)
    assert str(caught.value) == (
        "missing required column(s): contract_type, payment_method; add them to the CSV "
        "(customer_id is optional)"
    )


def test_extra_columns_stay_out_of_the_features() -> None:
    """It ignores extra columns for the output but reports them and keeps them in the rejects."""
    raw = rows({}, {"churn": "maybe"}).assign(region="north", notes="vip")
    clean, rejected, checks = prepare_frame(raw)
    assert list(clean.columns) == OUTPUT_COLUMNS
    assert checks["extra_columns_ignored"] == ["region", "notes"]
    assert list(rejected.columns) == ["reason", *raw.columns]


def test_assigns_ids_when_the_column_is_absent() -> None:
    """Without a customer_id column, rows are named by their row number."""
    clean, _, checks = prepare_frame(rows({}, {}).drop(columns=["customer_id"]))
    assert clean["customer_id"].tolist() == ["row-1", "row-2"]
    assert checks["ids_assigned_from_row_numbers"] is True


# ---- rules ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("0", 0),
        ("1", 1),
        ("1.0", 1),
        ("0.0", 0),
        ("true", 1),
        ("FALSE", 0),
        ("Yes", 1),
        ("no", 0),
        (" YES ", 1),
    ],
)
def test_label_forms(text: str, label: int) -> None:
    """It reads the label as 0/1, true/false or yes/no in any case, with spaces."""
    assert only_clean_row({"churn": text})["churn"] == label


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ({"tenure": " 12 "}, 12),
        ({"monthly_charges": "50"}, 50.0),
        ({"total_charges": "6e2"}, 600.0),
    ],
)
def test_numbers_written_as_text(change: dict[str, str], value: float) -> None:
    """It parses numbers written as text, with spaces or in exponent form."""
    (name,) = change
    assert only_clean_row(change)[name] == value


@pytest.mark.parametrize(
    ("change", "column", "value"),
    [
        ({"total_charges": ""}, "total_charges", 600.0),
        ({"total_charges": " "}, "total_charges", 600.0),
        ({"monthly_charges": "", "total_charges": "601"}, "monthly_charges", 50.08),
        ({"tenure": "\t", "total_charges": "610"}, "tenure", 12),
    ],
    ids=["total-empty", "total-whitespace", "monthly", "tenure"],
)
def test_imputes_one_missing_billing_number(
    change: dict[str, str], column: str, value: float
) -> None:
    """It fills one missing billing number from the other two (total = tenure × monthly)."""
    assert only_clean_row(change)[column] == pytest.approx(value)


@pytest.mark.parametrize(
    ("change", "reasons"),
    [
        ({"tenure": "", "monthly_charges": ""}, ["missing tenure", "missing monthly_charges"]),
        ({"tenure": "0", "monthly_charges": "", "total_charges": "0"}, ["missing monthly"]),
        ({"tenure": "", "monthly_charges": "0", "total_charges": "0"}, ["missing tenure"]),
        ({"monthly_charges": "abc"}, ["monthly_charges not a number"]),
        ({"tenure": "-1"}, ["tenure out of range"]),
        ({"tenure": "73", "total_charges": "3650"}, ["tenure out of range"]),
        ({"tenure": "12.5", "total_charges": "625"}, ["tenure not a whole number"]),
        ({"monthly_charges": "501", "total_charges": "6012"}, ["monthly_charges out of range"]),
        ({"monthly_charges": "inf"}, ["monthly_charges out of range"]),
        ({"total_charges": "6000"}, ["total_charges inconsistent"]),
        ({"contract_type": "Three year"}, ["unknown contract_type"]),
        ({"payment_method": "  "}, ["missing payment_method"]),
        ({"churn": "2"}, ["label not 1/true/yes (churned) or 0/false/no (stayed)"]),
        ({"churn": "maybe"}, ["label not 1/true/yes (churned) or 0/false/no (stayed)"]),
        ({"churn": ""}, ["missing churn"]),
        ({"customer_id": " "}, ["missing customer_id"]),
        ({"tenure": "x", "contract_type": "??"}, ["tenure not a number", "unknown contract_type"]),
    ],
)
def test_rejects_with_every_reason(change: dict[str, str], reasons: list[str]) -> None:
    """It rejects a row that breaks a rule and names every rule it broke."""
    reason = only_reason(change)
    for expected in reasons:
        assert expected in reason


@pytest.mark.parametrize(
    ("column", "text", "canonical"),
    [
        ("contract_type", "month-to-month", "Month-to-month"),
        ("contract_type", " Month to month ", "Month-to-month"),
        ("contract_type", "MONTH_TO_MONTH", "Month-to-month"),
        ("contract_type", "monthly", "Month-to-month"),
        ("contract_type", "1 year", "One year"),
        ("contract_type", "One Years", "One year"),
        ("contract_type", "2 year", "Two year"),
        ("payment_method", "ELECTRONIC CHECK", "Electronic check"),
        ("payment_method", "bank transfer", "Bank transfer (automatic)"),
        ("payment_method", "Credit Card (Automatic)", "Credit card (automatic)"),
        ("payment_method", "credit card", "Credit card (automatic)"),
        ("contract_type", "12 months", "One year"),
        ("contract_type", "24 months", "Two year"),
    ],
)
def test_normalises_category_spelling(column: str, text: str, canonical: str) -> None:
    """It maps case, space, punctuation and alias variants to the schema's category."""
    assert only_clean_row({column: text})[column] == canonical


def test_keeps_the_first_row_of_a_duplicate_id() -> None:
    """It keeps the first row of a customer id and rejects the later copies."""
    clean, rejected, checks = prepared({"customer_id": "A"}, {"customer_id": "A", "churn": "1"})
    assert clean["churn"].tolist() == [0]
    assert rejected["reason"].tolist() == ["duplicate customer_id"]
    assert checks["duplicate_ids"] == 1


def test_check_counts() -> None:
    """It counts each check: parse failures, imputations, respellings, labels, ranges, ids."""
    _, rejected, checks = prepared(
        {},
        {"tenure": "abc"},
        {"total_charges": " "},
        {"contract_type": "one year"},
        {"payment_method": "Bitcoin"},
        {"churn": "yes"},
        {"churn": ""},
        {"churn": "7"},
        {"monthly_charges": "-3", "total_charges": "0"},
        {"customer_id": "C0"},
        {"total_charges": "9999"},
    )
    assert checks["not_a_number"] == {"tenure": 1, "monthly_charges": 0, "total_charges": 0}
    assert checks["missing_before_imputation"]["total_charges"] == 1
    assert checks["imputed"]["total_charges"] == 1
    assert checks["spelling_normalised"]["contract_type"] == 1
    assert checks["label_values"] == {"0": 8, "1": 1, "missing": 1, "invalid": 1}
    assert checks["out_of_range"]["monthly_charges"] == 1
    assert checks["unknown_categories"]["payment_method"] == {"Bitcoin": 1}
    assert checks["duplicate_ids"] == 1
    assert checks["inconsistent_total_charges"] >= 1
    assert len(rejected) == 7


# ---- the file-level stage ------------------------------------------------------------------
def _csv(*changes: dict[str, str]) -> str:
    return rows(*changes).to_csv(index=False)


def test_prepare_writes_data_report_and_rejects(tmp_path: Path) -> None:
    """It writes processed.csv (readable for training), rejected.csv with a reason per row and a
    quality report whose counts add up."""
    source = write(tmp_path / "in.csv", _csv(*([{}] * 40), {"churn": "1"}, {"contract_type": "3y"}))
    out = tmp_path / "data"
    result = prepare(source, out, max_reject_rate=0.05)
    assert result.passed
    report = json.loads((out / "quality_report.json").read_text(encoding="utf-8"))
    assert report["rows_read"] == 42
    assert report["rows_clean"] + report["rows_rejected"] == report["rows_read"]
    assert report["gate"] == {"max_reject_rate": 0.05, "passed": True, "reason": None}
    assert report["rejections_by_reason"] == {"unknown contract_type": 1}
    rejected = pd.read_csv(out / "rejected.csv", dtype=str)
    assert rejected["reason"].tolist() == ["unknown contract_type"]
    assert rejected["contract_type"].tolist() == ["3y"]
    assert len(load_processed(out / "processed.csv")) == 41


def test_gate_failure_leaves_processed_csv_untouched(tmp_path: Path) -> None:
    """Above the reject limit it fails the gate and keeps the previous processed.csv byte for
    byte, while still writing the report and the rejects that explain why."""
    out = tmp_path / "data"
    out.mkdir()
    previous = b"an earlier, good processed.csv\n"
    (out / "processed.csv").write_bytes(previous)
    source = write(tmp_path / "in.csv", _csv({}, {"churn": "1"}, {"tenure": "-1"}))
    result = prepare(source, out, max_reject_rate=0.05)
    assert not result.passed
    assert result.failure is not None and "above the 5.0% limit" in result.failure
    assert (out / "processed.csv").read_bytes() == previous
    report = json.loads((out / "quality_report.json").read_text(encoding="utf-8"))
    assert report["gate"]["passed"] is False
    assert len(pd.read_csv(out / "rejected.csv")) == 1


def test_gate_fails_when_every_label_is_missing(tmp_path: Path) -> None:
    """It refuses data with no usable label, whatever the reject limit."""
    source = write(tmp_path / "in.csv", _csv({"churn": ""}, {"churn": " "}))
    result = prepare(source, tmp_path / "data", max_reject_rate=1.0)
    assert not result.passed
    assert result.failure is not None and "label" in result.failure
    assert not (tmp_path / "data" / "processed.csv").exists()


def test_gate_fails_on_a_single_label_value(tmp_path: Path) -> None:
    """It refuses clean data that holds only stayers: a churn model needs both classes."""
    source = write(tmp_path / "in.csv", _csv({}, {}, {}))
    result = prepare(source, tmp_path / "data", max_reject_rate=0.05)
    assert not result.passed
    assert result.failure is not None and "one label value" in result.failure


def test_prepare_is_deterministic(tmp_path: Path) -> None:
    """The same input gives byte-identical outputs."""
    source = write(
        tmp_path / "in.csv",
        _csv({}, {"churn": "1"}, {"total_charges": ""}, {"tenure": "-1"}, {"contract_type": "x"}),
    )
    outputs = []
    for name in ("a", "b"):
        prepare(source, tmp_path / name, max_reject_rate=1.0)
        outputs.append(
            [(tmp_path / name / f).read_bytes() for f in ("processed.csv", "rejected.csv")]
        )
    assert outputs[0] == outputs[1]
