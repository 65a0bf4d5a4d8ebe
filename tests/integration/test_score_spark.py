"""Scoring on a real local Spark (``local[2]``): the same rows and probabilities as one machine.

The comparison runs on 1,000,000 generated rows with their dirt (about a minute on this
machine); ``benchmarks/bench_score.py --sections spark`` times it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_support import RunCli

from churnops.data.generate import generate
from churnops.errors import BadInputError
from churnops.schema import DEFAULT_SCHEMA
from churnops.scoring.scored import read_scores

pytest.importorskip("pyspark", reason="the Spark engine needs churnops[spark]")
if shutil.which("java") is None:
    pytest.skip(
        "Spark needs Java: apt-get install openjdk-17-jre-headless", allow_module_level=True
    )

from pyspark.sql import SparkSession

from churnops import spark as churnops_spark

pytestmark = pytest.mark.slow
ROWS = 1_000_000


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = churnops_spark.local_session("local[2]")
    yield session
    session.stop()


def customers(folder: Path) -> Path:
    """Generated customers with their dirt (no label), as two Parquet part files."""
    table = generate(ROWS, 11).table.drop_columns(["churn"])
    folder.mkdir()
    half = table.num_rows // 2
    table.slice(0, half).to_pandas().to_parquet(folder / "part-0.parquet", index=False)
    table.slice(half).to_pandas().to_parquet(folder / "part-1.parquet", index=False)
    return folder


def test_spark_and_one_machine_give_the_same_scores(
    spark: SparkSession, trained_home: Path, run_cli: RunCli
) -> None:
    """Same ids scored and rejected, same reasons, probabilities within 1e-6."""
    source = customers(trained_home / "base")
    local, on_spark = trained_home / "local.parquet", trained_home / "spark"
    common = ("score", "--home", trained_home, "--input", source, "--json")
    one = run_cli(*common, "--output", local)
    assert one.code == 0, one.err
    other = run_cli(*common, "--output", on_spark, "--engine", "spark")
    assert other.code == 0, other.err
    first = pd.read_parquet(local).sort_values("customer_id", ignore_index=True)
    second = pd.read_parquet(on_spark).sort_values("customer_id", ignore_index=True)
    assert len(first) > ROWS * 0.9
    assert first["customer_id"].tolist() == second["customer_id"].tolist()
    assert np.max(np.abs(first["probability"] - second["probability"])) <= 1e-6
    assert (first["model_version"] == second["model_version"]).all()
    rejects = [
        pd.read_csv(path, keep_default_na=False).sort_values(
            ["customer_id", "reason"], ignore_index=True
        )
        for path in (trained_home / "local.rejected.csv", trained_home / "spark.rejected.csv")
    ]
    assert rejects[0]["customer_id"].tolist() == rejects[1]["customer_id"].tolist()
    assert rejects[0]["reason"].tolist() == rejects[1]["reason"].tolist()
    summaries = one.json(), other.json()
    for key in ("rows_read", "rows_scored", "rows_rejected", "rejections_by_reason"):
        assert summaries[0][key] == summaries[1][key], key
    # both read back as the same predictions, each at its run's time (Spark's are INT96)
    read = [read_scores([path]) for path in (local, on_spark)]
    for found, summary in zip(read, summaries, strict=True):
        assert (found["ts"] == pd.Timestamp(summary["scored_at"]).timestamp()).all()
    columns = ["customer_id", "model_version"]
    assert (
        read[0][columns]
        .sort_values(columns, ignore_index=True)
        .equals(read[1][columns].sort_values(columns, ignore_index=True))
    )


def test_score_a_dataframe_in_a_notebook(spark: SparkSession, trained_home: Path) -> None:
    """``churnops.spark.score(df)`` finds columns in any case and returns rejected rows with
    their reason and no probability."""
    rows = pd.DataFrame(
        {
            "Customer_ID": ["A1", "A2"],
            "TENURE": ["12", "twelve"],
            "monthly_charges": [65.5, 65.5],
            "total_charges": [786.0, 786.0],
            "contract_type": ["month to month", "Month-to-month"],
            "payment_method": ["Electronic check", "Electronic check"],
        }
    )
    result = churnops_spark.score(spark.createDataFrame(rows), home=trained_home).toPandas()
    result = result.sort_values("customer_id", ignore_index=True)
    assert result["customer_id"].tolist() == ["A1", "A2"]
    assert result["reason"].isna().tolist() == [True, False]
    assert result["reason"][1].startswith("tenure not a number")
    assert 0 <= result["probability"][0] <= 1 and pd.isna(result["probability"][1])
    assert list(result.columns[:2]) == [DEFAULT_SCHEMA.id_column, "probability"]


def test_a_home_that_does_not_exist_is_refused(spark: SparkSession, tmp_path: Path) -> None:
    """A mistyped ``home`` is named as such, and not created (it said the registry had no
    model yet, as for a project nothing was trained in)."""
    df = spark.createDataFrame(pd.DataFrame({"customer_id": ["A1"]}))
    missing = tmp_path / "typo"
    expected = f"project folder {missing} does not exist: check the home argument"
    with pytest.raises(BadInputError, match=re.escape(expected)):
        churnops_spark.score(df, home=missing)
    assert not missing.exists()


@pytest.mark.parametrize("mistake", ["no such --home", "no such --input"])
def test_the_cluster_job_words_a_mistake_in_one_line(
    trained_home: Path, tmp_path: Path, mistake: str
) -> None:
    """The job ``spark-submit`` runs, given a folder or an input that does not exist: one
    line, exit 2, no traceback (it printed Python's, or Spark's)."""
    home, data = trained_home, tmp_path / "customers.parquet"
    if mistake == "no such --home":
        home = tmp_path / "typo"
        generate(50, 3).table.drop_columns(["churn"]).to_pandas().to_parquet(data)
    args = ["--home", str(home), "--input", str(data), "--output", str(tmp_path / "scores")]
    command = [sys.executable, "-m", "churnops.spark", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    expected = {
        "no such --home": f"error: project folder {home} does not exist: check --home",
        "no such --input": f"error: cannot read {data} ([PATH_NOT_FOUND] Path does not exist",
    }[mistake]
    assert len(errors) == 1 and errors[0].startswith(expected), done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "scores").exists()
