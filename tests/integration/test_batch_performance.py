"""Realised performance of batch-scored customers: `churnops score` the base, weeks later
`labels import OUTCOMES --scores SCORES`, then `performance --scores SCORES` — the real CLI,
model, outcome store and files, on customers the model never saw."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_support import RunCli, assert_one_line_error
from log_backends import LogBackend, use_database
from traffic_support import log_traffic

from churnops.monitoring.window import iso
from churnops.scoring.scored import read_scores
from churnops.settings import load_settings

HOUR = 3_600.0


@dataclass(frozen=True)
class Scored:
    home: Path
    scores: Path  # the score output (Parquet)
    outcomes: Path  # every scored customer's true outcome, observed after the scoring
    scored_at: float

    def customers_with_outcomes(self) -> int:
        """Distinct scored customers whose true outcome is known, read from the files."""
        scored = set(pd.read_parquet(self.scores)["customer_id"])
        return len(scored & set(pd.read_csv(self.outcomes, dtype=str)["customer_id"]))


def _outcomes(home: Path, path: Path, observed_at: str) -> Path:
    """The generated customers' true churn labels as an outcomes file (rows without one, and
    exact repeats, left out)."""
    raw = pd.read_csv(home / "data" / "raw.csv", dtype=str, keep_default_na=False)
    rows = raw[["customer_id", "churn"]].rename(columns={"churn": "outcome"})
    rows = rows[rows["outcome"].str.strip() != ""].drop_duplicates()
    rows.assign(observed_at=observed_at).to_csv(path, index=False)
    return path


def churnops(*args: str | Path) -> None:
    """The installed command, in its own process (for the module's shared fixture)."""
    subprocess.run(
        [sys.executable, "-m", "churnops", *map(str, args)], check=True, stdout=subprocess.DEVNULL
    )


@pytest.fixture(scope="module")
def _scored_template(_trained_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Scored:
    """v1 trained; 3,000 new customers generated (seed 7: not the training data) and scored;
    their outcomes observed just after."""
    home = tmp_path_factory.mktemp("batch-scored") / "home"
    shutil.copytree(_trained_template, home)
    scores = home / "scores" / "2026-11.parquet"
    churnops("generate", "--home", home, "--rows", "3000", "--seed", "7")
    churnops("score", "--home", home, "--input", home / "data" / "raw.csv", "--output", scores)
    scored_at = pd.read_parquet(scores)["scored_at"].iloc[0].timestamp()
    # outcomes are written in whole seconds: observed at the first one not before the scoring
    # (the time now can still be in the scoring's second, which would put them before it)
    observed_at = math.ceil(scored_at)
    time.sleep(max(0.0, observed_at - time.time()))
    outcomes = _outcomes(home, home / "outcomes.csv", iso(observed_at))
    return Scored(home, scores, outcomes, scored_at)


@pytest.fixture
def batch(_scored_template: Scored, tmp_path: Path) -> Scored:
    """A private copy of the scored home."""
    home = tmp_path / "home"
    shutil.copytree(_scored_template.home, home)
    moved = {
        name: home / getattr(_scored_template, name).relative_to(_scored_template.home)
        for name in ("scores", "outcomes")
    }
    return Scored(home, moved["scores"], moved["outcomes"], _scored_template.scored_at)


def test_outcomes_of_batch_scored_customers_measure_their_version(
    batch: Scored, run_cli: RunCli, log_backend: LogBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every scored customer with an outcome is labelled and measured once; the realised AUC
    on new customers is close to the hold-out AUC; the report says where predictions came
    from, in JSON, the terminal and the HTML page. The same with the outcomes (and the
    registry) in PostgreSQL."""
    use_database(batch.home, log_backend.location, monkeypatch)
    home, known = batch.home, batch.customers_with_outcomes()
    imported = run_cli(
        "labels", "import", batch.outcomes, "--home", home, "--scores", batch.scores, "--json"
    )
    assert imported.code == 0, imported.err
    summary = imported.json()
    assert (summary["matched_log"], summary["matched_scores"]) == (0, known)
    assert summary["unmatched"] == summary["rows"] - known  # customers the score rejected
    found = run_cli("performance", "--home", home, "--scores", batch.scores, "--html", "--json")
    assert found.code == 0, found.err
    report = found.json()
    [v1] = report["versions"]
    scored = pd.read_parquet(batch.scores).drop_duplicates()
    assert (v1["predictions"], v1["from_scores"], v1["from_log"]) == (len(scored), len(scored), 0)
    assert v1["labelled"] == v1["labelled_from_scores"] == v1["realised"]["outcomes"] == known
    assert abs(v1["realised"]["auc"]["auc"] - v1["holdout"]["roc_auc"]) < 0.05
    assert report["scores"] == [str(batch.scores)]
    html = Path(report["html_path"]).read_text(encoding="utf-8")
    assert f"{len(scored):,} batch-scored" in html
    shown = run_cli("performance", "--home", home, "--scores", batch.scores)
    assert f"0 logged, {len(scored):,} batch-scored" in shown.out


def test_logged_and_batch_scored_predictions_are_counted_apart(
    batch: Scored, run_cli: RunCli, tmp_path: Path
) -> None:
    """Customers scored in a batch run yesterday, then by the API (logged a minute ago): their
    outcomes label both; the report counts each source apart, and measures each outcome once,
    on the latest prediction it labels (the logged one)."""
    frame = pd.read_parquet(batch.scores).drop_duplicates()
    yesterday = tmp_path / "yesterday.parquet"
    frame.assign(scored_at=frame["scored_at"] - pd.Timedelta(days=1)).to_parquet(yesterday)
    traffic = tmp_path / "traffic.csv"
    ids = [*frame["customer_id"].iloc[:250], *(f"N{i}" for i in range(250))]  # half seen
    logged = log_traffic(load_settings(home=batch.home), 500, seed=5, outcomes=traffic, ids=ids)
    outcomes = set(pd.read_csv(traffic, dtype=str)["customer_id"])
    both = len(outcomes & set(frame["customer_id"]))
    assert 0 < both < len(outcomes)
    home = batch.home
    imported = run_cli("labels", "import", traffic, "--home", home, "--scores", yesterday, "--json")
    assert imported.code == 0, imported.err
    summary = imported.json()
    assert (summary["matched_log"], summary["matched_scores"]) == (len(outcomes), both)
    found = run_cli("performance", "--home", home, "--scores", yesterday, "--json")
    assert found.code == 0, found.err
    [v1] = found.json()["versions"]
    assert (v1["from_log"], v1["from_scores"]) == (len(logged), len(frame))
    assert v1["labelled_from_scores"] == both
    assert v1["labelled"] == len(outcomes) + both
    assert v1["realised"]["outcomes"] == len(outcomes)


def test_without_the_scores_the_outcomes_label_nothing(batch: Scored, run_cli: RunCli) -> None:
    """Without --scores no outcome labels a prediction (none was logged): the import is
    refused and stores nothing, so the batch rows have no outcome yet; after an import with
    --scores, performance without them has no prediction to measure."""
    home = batch.home
    refused = run_cli("labels", "import", batch.outcomes, "--home", home)
    assert_one_line_error(refused, 2, "labels a logged prediction", "nothing was imported")
    found = run_cli("performance", "--home", home, "--scores", batch.scores, "--json")
    assert found.code == 0, found.err
    [v1] = found.json()["versions"]
    assert v1["labelled"] == 0 and v1["realised"]["status"] == "not enough outcomes yet"
    imported = run_cli("labels", "import", batch.outcomes, "--home", home, "--scores", batch.scores)
    assert imported.code == 0, imported.err
    assert_one_line_error(run_cli("performance", "--home", home), 2, "no prediction was logged")


def test_outcomes_observed_before_the_scoring_label_nothing(
    batch: Scored, run_cli: RunCli, tmp_path: Path
) -> None:
    """The join rule's window: a prediction made after the outcome was known is not
    labelled by it, batch-scored or logged."""
    early = _outcomes(batch.home, tmp_path / "early.csv", iso(batch.scored_at - HOUR))
    found = run_cli("labels", "import", early, "--home", batch.home, "--scores", batch.scores)
    assert_one_line_error(found, 2, "labels a logged or batch-scored prediction")


@pytest.mark.parametrize(
    ("option", "hours", "kept"),
    [
        ("--last", None, True),  # --last 1d
        ("--since", -1, True),  # from an hour before the scoring
        ("--until", -1, False),  # up to an hour before it
        ("--since", 1, False),  # from an hour after it
    ],
)
def test_the_window_applies_to_scored_at(
    batch: Scored, run_cli: RunCli, option: str, hours: int | None, kept: bool
) -> None:
    value = "1d" if hours is None else iso(batch.scored_at + hours * HOUR)
    home = batch.home
    run_cli("labels", "import", batch.outcomes, "--home", home, "--scores", batch.scores)
    found = run_cli("performance", "--home", home, "--scores", batch.scores, option, value)
    if kept:
        assert found.code == 0, found.err
        assert "batch-scored" in found.out
    else:
        assert_one_line_error(found, 2, "no prediction was logged or batch-scored")


def test_a_csv_output_and_a_folder_of_parts_read_as_the_parquet_file(
    batch: Scored, tmp_path: Path
) -> None:
    """Every form `score` writes (Parquet, CSV, a folder of Parquet part files as Spark
    writes them) gives the same predictions."""
    assert pq.read_schema(batch.scores).field("scored_at").type == pa.timestamp("us", tz="UTC")
    table = pq.read_table(batch.scores)
    as_csv = tmp_path / "scores.csv"
    pd.read_parquet(batch.scores).to_csv(as_csv, index=False)
    parts = tmp_path / "parts"
    parts.mkdir()
    # Spark writes its timestamps as INT96, which read back in ns without a zone (but UTC)
    naive = table.set_column(
        table.schema.get_field_index("scored_at"),
        "scored_at",
        table["scored_at"].cast(pa.timestamp("ns", tz="UTC")).cast(pa.timestamp("ns")),
    )
    half = table.num_rows // 2
    pq.write_table(naive.slice(0, half), parts / "part-00000.parquet")
    pq.write_table(naive.slice(half), parts / "part-00001.parquet")
    (parts / "_SUCCESS").write_text("")
    expected = read_scores([batch.scores])
    assert (expected["model_version"] == 1).all()
    assert expected["ts"].tolist() == [batch.scored_at] * len(expected)
    for path in (as_csv, parts):
        pd.testing.assert_frame_equal(read_scores([path]), expected)
    both = read_scores([batch.scores, parts])
    pd.testing.assert_frame_equal(both, expected)  # the same prediction twice counts once


def test_a_folder_of_outputs_is_read_without_their_rejects(batch: Scored, tmp_path: Path) -> None:
    """`--scores scores/`: the outputs in the folder, not the rows `score` refused, which it
    writes beside each (OUTPUT.rejected.csv) — for a Parquet and for a CSV output."""
    folder = batch.scores.parent
    rejects = folder / "2026-11.rejected.csv"
    assert rejects.is_file()
    expected = read_scores([batch.scores])
    pd.testing.assert_frame_equal(read_scores([folder]), expected)
    as_csv = tmp_path / "csv"
    as_csv.mkdir()
    pd.read_parquet(batch.scores).to_csv(as_csv / "2026-11.csv", index=False)
    shutil.copy(rejects, as_csv)
    pd.testing.assert_frame_equal(read_scores([as_csv]), expected)


def test_the_id_column_is_the_score_files_own(
    batch: Scored, run_cli: RunCli, tmp_path: Path
) -> None:
    """A file scored by a version whose schema named the id otherwise (``score`` writes it
    first) gives the same predictions, whatever the project's schema calls the id now."""
    renamed = tmp_path / "renamed.parquet"
    frame = pd.read_parquet(batch.scores).rename(columns={"customer_id": "account_id"})
    frame.to_parquet(renamed)
    pd.testing.assert_frame_equal(read_scores([renamed]), read_scores([batch.scores]))
    imported = run_cli(
        "labels", "import", batch.outcomes, "--home", batch.home, "--scores", renamed, "--json"
    )
    assert imported.code == 0, imported.err
    assert imported.json()["matched_scores"] == batch.customers_with_outcomes()
    found = run_cli("performance", "--home", batch.home, "--scores", renamed, "--json")
    assert found.code == 0, found.err
    assert found.json()["versions"][0]["labelled_from_scores"] == batch.customers_with_outcomes()


def _bad_inputs(batch: Scored, tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """A bad --scores value and the words its error must say."""
    frame = pd.read_parquet(batch.scores)
    unknown = tmp_path / "unknown_version.parquet"
    frame.assign(model_version="latest").to_parquet(unknown)
    numbers = tmp_path / "numeric_ids.parquet"  # the score columns, but ids as numbers
    frame.assign(customer_id=range(len(frame))).to_parquet(numbers)
    return {
        "missing": (tmp_path / "nowhere.parquet", "does not exist"),
        "not scores": (batch.home / "data" / "raw.csv", "is not a `churnops score` output"),
        "version": (unknown, "'latest' is not a model version"),
        "numeric ids": (numbers, "should hold text ids"),
    }


@pytest.mark.parametrize("case", ["missing", "not scores", "version", "numeric ids"])
def test_bad_scores_are_refused_in_one_line_and_nothing_is_written(
    batch: Scored, run_cli: RunCli, tmp_path: Path, case: str
) -> None:
    path, words = _bad_inputs(batch, tmp_path)[case]
    home = batch.home
    imported = run_cli("labels", "import", batch.outcomes, "--home", home, "--scores", path)
    assert_one_line_error(imported, 2, words)
    assert not (home / "logs" / "inference.sqlite").exists()
    found = run_cli("performance", "--home", home, "--scores", path)
    assert_one_line_error(found, 2, words)
    assert not (home / "reports" / "performance_latest.json").exists()
