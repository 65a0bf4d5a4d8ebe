"""Hostile files (issue 7, defect 12): absurd headers are refused early, customer ids follow the
API's rule, and the CSV files people open never carry a live spreadsheet formula."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pandas as pd
import pytest

from churnops.data.prepare import MAX_COLUMNS, MAX_HEADER_BYTES, prepare, prepare_frame, read_raw
from churnops.errors import BadInputError
from churnops.spreadsheet import neutralise_formulas

HEADER = "customer_id,tenure,monthly_charges,total_charges,contract_type,payment_method,churn"
ROW = "C1,12,50,600,One year,Mailed check,0"


def test_refuses_more_columns_than_the_limit(tmp_path: Path) -> None:
    """A header with more than MAX_COLUMNS columns is refused, naming the count and the limit."""
    path = tmp_path / "wide.csv"
    extra = ",".join(f"x{i}" for i in range(MAX_COLUMNS))
    path.write_text(f"{HEADER},{extra}\n{ROW}{',' * MAX_COLUMNS}\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=f"{MAX_COLUMNS + 7:,} columns") as caught:
        read_raw(path)
    assert "\n" not in str(caught.value)


def test_refuses_a_header_line_longer_than_the_limit(tmp_path: Path) -> None:
    """One header line longer than MAX_HEADER_BYTES (here in few, long names) is refused."""
    path = tmp_path / "long.csv"
    path.write_text(f"{HEADER},{'x' * MAX_HEADER_BYTES}\n{ROW},1\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="header line is longer"):
        read_raw(path)


def test_an_absurd_header_is_refused_from_its_first_megabyte(tmp_path: Path) -> None:
    """A 20 MB header of two million columns (the reported attack, scaled down tenfold) is
    refused after reading at most its first MiB: Python allocates under 16 MB on the way
    (reading the whole header first took gigabytes at full scale)."""
    path = tmp_path / "hostile.csv"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(",".join(f"c{i}" for i in range(2_000_000)))
    tracemalloc.start()
    try:
        with pytest.raises(BadInputError) as caught:
            read_raw(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"{peak / 1e6:.0f} MB"
    assert "header line is longer" in str(caught.value)


@pytest.mark.parametrize(
    "customer_id",
    ["=cmd|' /C calc'!A0", "=1+1", "C 1", "x" * 65, "Cé1", "C1;DROP"],
    ids=["dde", "formula", "space", "too-long", "non-ascii", "semicolon"],
)
def test_refuses_ids_the_api_would_refuse(customer_id: str) -> None:
    """prepare holds customer ids to the API's pattern: a row the API could never be asked
    about again is rejected, with the reason."""
    raw = pd.DataFrame([dict(zip(HEADER.split(","), ROW.split(","), strict=True))], dtype="str")
    clean, rejected, _ = prepare_frame(raw.assign(customer_id=customer_id))
    assert clean.empty
    assert "customer_id not a valid id" in rejected["reason"].iloc[0]


@pytest.mark.parametrize("customer_id", ["C1", "7590-VHVEG", "a.b@c:d/e_f+1", "x" * 64])
def test_keeps_ids_the_api_accepts(customer_id: str) -> None:
    raw = pd.DataFrame([dict(zip(HEADER.split(","), ROW.split(","), strict=True))], dtype="str")
    clean, rejected, _ = prepare_frame(raw.assign(customer_id=customer_id))
    assert rejected.empty and clean["customer_id"].tolist() == [customer_id]


def test_rejected_csv_carries_no_live_formula(tmp_path: Path) -> None:
    """Cells (and a header) that a spreadsheet would run as formulas are written to
    rejected.csv behind an apostrophe; plain negative numbers stay numbers."""
    rows = [
        ROW,
        "=cmd|' /C calc'!A0,12,50,600,One year,Mailed check,0",
        'C3,12,50,600,"=HYPERLINK(""http://x"")",Mailed check,1',
        "C4,-1,50,600,One year,@SUM(A1),0",
        "C5,12,50,600,One year,Mailed check,+1-2",
    ]
    source = tmp_path / "in.csv"
    source.write_text(HEADER + ",=note\n" + "\n".join(r + ",x" for r in rows) + "\n", "utf-8")
    prepare(source, tmp_path / "out", max_reject_rate=1.0)
    rejected = pd.read_csv(tmp_path / "out" / "rejected.csv", dtype=str, keep_default_na=False)
    assert "'=note" in rejected.columns
    cells = rejected.drop(columns="reason").to_numpy().ravel().tolist()
    assert "'=cmd|' /C calc'!A0" in cells
    assert '\'=HYPERLINK("http://x")' in cells
    assert "'@SUM(A1)" in cells and "'+1-2" in cells
    assert "-1" in cells  # a negative tenure is shown as the number it is
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and c != "-1")]


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20 7946", "'+44 20 7946"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("-3", "-3"),
        ("+2.5e3", "+2.5e3"),
        ("a=1", "a=1"),
        ("", ""),
    ],
)
def test_neutralise_formulas(cell: str, written: str) -> None:
    """Only cells starting with = + - @ (or a tab / carriage return) that are not plain numbers
    get the apostrophe."""
    frame = pd.DataFrame({"text": [cell], "number": [-1.5]})
    out = neutralise_formulas(frame)
    assert out["text"].tolist() == [written]
    assert out["number"].tolist() == [-1.5]
    assert frame["text"].tolist() == [cell]  # a copy: the caller's frame is untouched
