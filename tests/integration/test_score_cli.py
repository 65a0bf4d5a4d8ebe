"""``churnops score``: the whole base through a registered version, streamed in batches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_support import RunCli

from churnops.data.prepare import prepare_frame, read_raw
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA
from churnops.scoring.run import ScoreOptions, score
from churnops.scoring.source import CSV_BLOCK_BYTES
from churnops.settings import load_settings

DIRTY = [
    {"customer_id": "BAD1", "tenure": "twelve"},  # not a number
    {"customer_id": "BAD2", "contract_type": "Weekly"},  # unknown category
    {"customer_id": "BAD3", "monthly_charges": "-5"},  # out of range
    {"customer_id": "", "tenure": "3"},  # no id
]


def base_rows(home: Path, rows: int = 1_500) -> pd.DataFrame:
    """The generated customers (dirty, as exported) without the label, plus DIRTY rows."""
    raw = read_raw(home / "data" / "raw.csv").drop(columns=["churn"]).head(rows)
    raw = raw.drop_duplicates("customer_id")
    template = raw.iloc[0].to_dict()
    dirty = pd.DataFrame([{**template, **change} for change in DIRTY])
    return pd.concat([raw, dirty], ignore_index=True)


def expected_scores(home: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """Ids and probabilities by prepare's rules and the registered pipeline itself."""
    registry = Registry(load_settings(home=home))
    pipeline = joblib.load(registry.artifact_path(registry.read().current))
    clean, _, _ = prepare_frame(frame.astype(object), DEFAULT_SCHEMA, labelled=False)
    probability = pipeline.predict_proba(clean[DEFAULT_SCHEMA.feature_names])[:, 1]
    return pd.DataFrame({"customer_id": clean["customer_id"], "probability": probability})


def test_scores_a_csv_like_prepare_and_the_registered_model(
    trained_home: Path, run_cli: RunCli
) -> None:
    """Every good row is scored with the version's model as prepare reads it; each dirty row
    goes to the rejects file with its reason; decisions follow the version's threshold."""
    frame = base_rows(trained_home)
    source = trained_home / "base.csv"
    frame.to_csv(source, index=False)
    out = trained_home / "scores" / "base.parquet"
    run = run_cli("score", "--home", trained_home, "--input", source, "--output", out, "--json")
    assert run.code == 0, run.err
    summary = run.json()
    scored = pd.read_parquet(out)
    expected = expected_scores(trained_home, frame)
    assert scored["customer_id"].tolist() == expected["customer_id"].tolist()
    np.testing.assert_allclose(scored["probability"], expected["probability"], atol=1e-6)
    threshold = summary["threshold"]
    assert (scored["decision"] == (scored["probability"] >= threshold)).all()
    assert set(scored["risk_decile"]) <= set(range(1, 11))
    assert (scored["model_version"] == "v1").all()
    assert scored["scored_at"].nunique() == 1
    rejected = pd.read_csv(out.with_name("base.rejected.csv"), keep_default_na=False)
    by_id = dict(zip(rejected["customer_id"], rejected["reason"], strict=True))
    assert by_id["BAD1"].startswith("tenure not a number")
    assert by_id["BAD2"] == "unknown contract_type"
    assert "monthly_charges out of range" in by_id["BAD3"]
    assert "missing customer_id" in by_id[""]
    assert summary["rows_read"] == len(frame)
    assert summary["rows_scored"] + summary["rows_rejected"] == len(frame)
    assert summary["rows_scored"] == len(scored)
    assert sum(summary["risk_deciles"].values()) == len(scored)
    assert summary["churn_decisions"] == int(scored["decision"].sum())


def test_a_folder_of_parquet_parts_scores_as_one_file(trained_home: Path) -> None:
    """Part files (as Spark writes them, with a _SUCCESS marker) are one input; typed Parquet
    columns are read by the same rules as CSV text; one worker or two give the same file."""
    frame = base_rows(trained_home)
    folder = trained_home / "parts"
    folder.mkdir()
    numbers = frame.copy()
    for name in DEFAULT_SCHEMA.numeric_names:
        numbers[name] = pd.to_numeric(numbers[name], errors="coerce")
    half = len(numbers) // 2
    numbers.iloc[:half].to_parquet(folder / "part-00000.parquet", index=False)
    numbers.iloc[half:].to_parquet(folder / "part-00001.parquet", index=False)
    (folder / "_SUCCESS").write_text("")
    registry = Registry(load_settings(home=trained_home))
    one = score(registry, ScoreOptions(folder, trained_home / "one.parquet", workers=1))
    two = score(
        registry, ScoreOptions(folder, trained_home / "two.parquet", workers=2, batch_rows=300)
    )
    first, second = (
        pd.read_parquet(trained_home / "one.parquet"),
        pd.read_parquet(trained_home / "two.parquet"),
    )
    pd.testing.assert_frame_equal(first, second.assign(scored_at=first["scored_at"]))
    as_text = numbers.astype(object)
    for name in DEFAULT_SCHEMA.numeric_names:
        as_text[name] = numbers[name].map(lambda v: None if pd.isna(v) else str(v))
    expected = expected_scores(trained_home, as_text)
    assert first["customer_id"].tolist() == expected["customer_id"].tolist()
    np.testing.assert_allclose(first["probability"], expected["probability"], atol=1e-6)
    assert one.rows_read == two.rows_read == len(frame)


@pytest.mark.parametrize("name", ["scores.csv", "scores.parquet"])
def test_the_scores_with_features_feed_drift(
    trained_home: Path, run_cli: RunCli, name: str
) -> None:
    """The scored file (CSV, or Parquet as written by default) is drift's current data: the
    features as scored and the probability."""
    source = trained_home / "base.csv"
    base_rows(trained_home).to_csv(source, index=False)
    out = trained_home / name
    run = run_cli("score", "--home", trained_home, "--input", source, "--output", out, "--features")
    assert run.code == 0, run.err
    drift = run_cli("drift", "--home", trained_home, "--current", out, "--json")
    assert drift.code in (0, 1), drift.err
    report = drift.json()
    assert report["source"]["path"] == str(out)
    assert report["prediction"] is not None
    assert set(report["features"]) == set(DEFAULT_SCHEMA.feature_names)


def _refused(run_cli: RunCli, home: Path, *args: str | Path) -> str:
    run = run_cli("score", "--home", home, *args)
    assert run.code == 2, (run.out, run.err)
    assert "Traceback" not in run.err
    assert len(run.err.strip().splitlines()) == 1, run.err
    return run.err


def test_bad_inputs_are_refused_in_one_line_and_write_nothing(
    trained_home: Path, run_cli: RunCli
) -> None:
    frame = base_rows(trained_home, 50)
    no_id = trained_home / "no_id.csv"
    frame.drop(columns=["customer_id"]).to_csv(no_id, index=False)
    no_feature = trained_home / "no_feature.csv"
    frame.drop(columns=["monthly_charges"]).to_csv(no_feature, index=False)
    wrong_type = trained_home / "wrong_type.parquet"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    tenure = pa.array([[1]] * len(frame), pa.list_(pa.int64()))
    pq.write_table(table.set_column(1, "tenure", tenure), wrong_type)
    out = trained_home / "out" / "scores.parquet"
    assert "customer_id" in _refused(run_cli, trained_home, "--input", no_id, "--output", out)
    err = _refused(run_cli, trained_home, "--input", no_feature, "--output", out)
    assert "monthly_charges" in err and "v1" in err
    assert "tenure" in _refused(run_cli, trained_home, "--input", wrong_type, "--output", out)
    missing = trained_home / "nowhere.csv"
    assert "does not exist" in _refused(run_cli, trained_home, "--input", missing, "--output", out)
    good = trained_home / "good.csv"
    frame.to_csv(good, index=False)
    assert "v9" in _refused(
        run_cli, trained_home, "--input", good, "--output", out, "--version", "v9"
    )
    blocker = trained_home / "a_file"
    blocker.write_text("")
    err = _refused(run_cli, trained_home, "--input", good, "--output", blocker / "scores.parquet")
    assert "cannot write" in err
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_an_existing_output_needs_overwrite(trained_home: Path, run_cli: RunCli) -> None:
    good = trained_home / "good.csv"
    base_rows(trained_home, 50).to_csv(good, index=False)
    out = trained_home / "scores.parquet"
    out.write_bytes(b"keep me")
    assert "--overwrite" in _refused(run_cli, trained_home, "--input", good, "--output", out)
    assert out.read_bytes() == b"keep me"
    run = run_cli("score", "--home", trained_home, "--input", good, "--output", out, "--overwrite")
    assert run.code == 0, run.err
    assert len(pd.read_parquet(out)) > 0


def test_an_input_that_breaks_midway_leaves_nothing(trained_home: Path, run_cli: RunCli) -> None:
    """A CSV whose rows past the first read block (16 MiB) cannot be read fails while scoring:
    neither the output nor the rejects exist afterwards, and no temporary file is left."""
    broken = trained_home / "broken.csv"
    frame = base_rows(trained_home)
    rows = frame.to_csv(index=False, header=False)
    copies = (CSV_BLOCK_BYTES // len(rows.encode())) + 1
    header = ",".join(frame.columns) + "\n"
    broken.write_text(header + rows * copies + "C9,1,2,3,4,5,6,7,8\n")
    out = trained_home / "out" / "scores.parquet"
    err = _refused(run_cli, trained_home, "--input", broken, "--output", out)
    assert "is not a readable csv input" in err and "Expected 6 columns, got 9" in err
    assert list(out.parent.iterdir()) == []


def test_a_killed_run_leaves_nothing_under_the_final_names(trained_home: Path) -> None:
    """SIGKILL in the middle of a run: the output and rejects do not exist (only a temporary
    file beside them may)."""
    frame = base_rows(trained_home)
    big = pd.concat([frame] * 40, ignore_index=True)
    source = trained_home / "big.csv"
    big.to_csv(source, index=False)
    out = trained_home / "out" / "scores.parquet"
    churnops = Path(sys.executable).with_name("churnops")
    command = [churnops, "score", "--home", trained_home, "--input", source, "--output", out]
    process = subprocess.Popen(command, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (out.parent.exists() and any(out.parent.glob(".scores.parquet.*"))):
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no temporary output appeared"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not out.exists()
    assert not out.with_name("scores.rejected.csv").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_prepare_frame_for_scoring_needs_no_label_and_scores_duplicates(workers: int) -> None:
    """Rows to score have no label, and a repeated id is scored each time (a file read in
    batches cannot be checked across batches); every other rule is prepare's."""
    raw = pd.DataFrame(
        [
            {
                "customer_id": "A",
                "tenure": "2",
                "monthly_charges": "10",
                "total_charges": "20",
                "contract_type": "monthly",
                "payment_method": "credit card",
            },
        ]
        * workers,
        dtype=object,
    )
    clean, rejected, _ = prepare_frame(raw, DEFAULT_SCHEMA, labelled=False)
    assert len(clean) == workers and rejected.empty
    assert clean["contract_type"].tolist() == ["Month-to-month"] * workers
    assert "churn" not in clean.columns
