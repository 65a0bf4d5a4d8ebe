"""evaluate: versions compared on the same customers, with figures and one self-contained page."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from churnops import workflow
from churnops.errors import BadInputError, CheckFailedError
from churnops.model.costs import Costs
from churnops.model.evaluate import Comparison, evaluate_versions, parse_version
from churnops.registry.lifecycle import TRAINED_ON
from churnops.registry.store import Registry
from churnops.schema import DEFAULT_SCHEMA
from churnops.settings import Settings, load_settings

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ALL_FIGURES = {"roc", "precision_recall", "calibration", "gains", "confusion", "importance"}


def page_text(comparison: Comparison) -> str:
    return comparison.html.read_text(encoding="utf-8") if comparison.html else ""


@pytest.mark.parametrize(("text", "number"), [("v3", 3), ("3", 3), (" V12 ", 12)])
def test_parse_version_accepts_vn_or_n(text: str, number: int) -> None:
    """Versions are written v3, V3 or 3."""
    assert parse_version(text) == number


@pytest.mark.parametrize("text", ["", "v", "x1", "v-1", "1.5", "latest"])
def test_parse_version_refuses_anything_else(text: str) -> None:
    """Anything else is bad input that shows the expected form."""
    with pytest.raises(BadInputError, match="like v3"):
        parse_version(text)


def _ids(settings: Settings, version: int, name: str) -> set[str]:
    frame = pd.read_parquet(Registry(settings).version_dir(version) / name)
    return set(frame[DEFAULT_SCHEMA.id_column])


def _assert_figures(comparison: Comparison, names: set[str]) -> None:
    assert set(comparison.figures) == names
    folder = comparison.html.parent if comparison.html else None
    for path in comparison.figures.values():
        assert path.parent == folder
        assert path.read_bytes().startswith(PNG_MAGIC)


def test_current_version_on_its_hold_out(trained_settings: Settings) -> None:
    """Without arguments it evaluates the current version on its stored hold-out, reproducing the
    training metrics, and writes the figures and the page into one folder under reports/."""
    comparison = evaluate_versions(trained_settings, [], None)
    (result,) = comparison.versions
    entry = Registry(trained_settings).read().versions[0]
    assert result.name == "v1"
    assert comparison.rows == result.metrics["rows"] == entry.metrics["rows"]
    assert result.metrics["confusion_matrix"] == entry.metrics["confusion_matrix"]
    assert result.metrics["roc_auc"] == pytest.approx(entry.metrics["roc_auc"], abs=1e-4)
    assert (
        comparison.html is not None
        and comparison.html.parent.parent == trained_settings.reports_dir
    )
    _assert_figures(comparison, ALL_FIGURES)


def test_same_seed_versions_share_their_whole_hold_out(trained_settings: Settings) -> None:
    """Two versions trained on the same data and seed have one hold-out: it is used whole, and
    both are scored on exactly those customers."""
    other_trees = load_settings(home=trained_settings.home, rows=4_000, n_estimators=30)
    workflow.train_step(other_trees, force=True)
    comparison = evaluate_versions(trained_settings, ["v1", "v2"], None)
    holdout = _ids(trained_settings, 1, "holdout.parquet")
    assert _ids(trained_settings, 2, "holdout.parquet") == holdout
    assert comparison.rows == len(holdout)
    assert "none of v1, v2 was trained on" in comparison.source
    assert [r.metrics["rows"] for r in comparison.versions] == [len(holdout)] * 2


def test_versions_of_other_seeds_meet_on_rows_neither_trained_on(
    trained_settings: Settings,
) -> None:
    """A version trained with another seed has another split: the comparison keeps only the
    hold-out customers that neither version trained on — none of them leaks into the scores."""
    other_seed = load_settings(home=trained_settings.home, rows=4_000, n_estimators=60, seed=7)
    workflow.train_step(other_seed, force=True)
    comparison = evaluate_versions(trained_settings, ["v1", "v2"], None)
    trained = _ids(trained_settings, 1, TRAINED_ON) | _ids(trained_settings, 2, TRAINED_ON)
    pooled = _ids(trained_settings, 1, "holdout.parquet") | _ids(
        trained_settings, 2, "holdout.parquet"
    )
    expected = pooled - trained
    assert 0 < comparison.rows == len(expected) < len(_ids(trained_settings, 1, "holdout.parquet"))
    scored = comparison.versions[0].scores
    assert len(scored.y) == len(expected)


def test_versions_without_training_ids_need_a_file(trained_settings: Settings) -> None:
    """A version registered before training ids were kept cannot be compared on hold-outs
    without risking leakage: bad input that says to use --data."""
    workflow.train_step(load_settings(home=trained_settings.home, seed=7), force=True)
    (Registry(trained_settings).version_dir(1) / TRAINED_ON).unlink()
    with pytest.raises(BadInputError, match=r"v1 does not record .* --data FILE"):
        evaluate_versions(trained_settings, ["v1", "v2"], None)
    alone = evaluate_versions(trained_settings, ["v1"], None)  # one version: its own hold-out
    assert alone.rows == Registry(trained_settings).read().versions[0].metrics["rows"]


def test_versions_side_by_side_on_a_csv(trained_settings: Settings) -> None:
    """On a labelled CSV, every version scores the rows that pass the checks; the raw file of
    `generate` also gets the oracle line."""
    workflow.train_step(load_settings(home=trained_settings.home, n_estimators=30), force=True)
    raw = trained_settings.raw_csv
    comparison = evaluate_versions(trained_settings, ["v1", "2"], raw, generated=True)
    assert [r.name for r in comparison.versions] == ["v1", "v2"]
    clean_rows = len(pd.read_csv(trained_settings.processed_csv))
    assert comparison.rows == clean_rows
    assert comparison.rows_dropped == len(pd.read_csv(raw, dtype=str)) - clean_rows
    assert comparison.oracle_auc is not None and 0.8 < comparison.oracle_auc < 0.95
    as_dict = comparison.as_dict()
    assert [v["version"] for v in as_dict["versions"]] == ["v1", "v2"]
    assert Path(as_dict["html"]).is_file()
    assert "oracle" in page_text(comparison)
    not_generated = evaluate_versions(trained_settings, ["v1"], raw)
    assert not_generated.oracle_auc is None
    assert "oracle" not in page_text(not_generated)  # no oracle line drawn: none described


def test_the_page_gives_these_customers_churn_rate(
    trained_settings: Settings, tmp_path: Path
) -> None:
    """The precision–recall reading gives the churn rate of the customers scored (it said "a
    25 % churn rate" whatever the data)."""
    raw = pd.read_csv(trained_settings.raw_csv, dtype=str)
    churned = raw["churn"].str.strip().str.lower().isin({"1", "yes", "true"})
    fewer = pd.concat([raw[churned].head(60), raw[~churned].head(540)])  # 10 % churn
    path = tmp_path / "ten_percent.csv"
    fewer.to_csv(path, index=False)
    comparison = evaluate_versions(trained_settings, ["v1"], path)
    said = " ".join(page_text(comparison).split())
    rate = f"{comparison.churn_rate:.1%}"
    assert 0.08 < comparison.churn_rate < 0.12 and "25 %" not in said
    assert f"Precision depends on how many churn ({rate} of these customers" in said


def test_the_page_is_self_contained(trained_settings: Settings) -> None:
    """The HTML page embeds every figure as a data URI and loads nothing: no script, no link,
    no remote or file reference."""
    comparison = evaluate_versions(
        trained_settings, [], None, costs=Costs(false_negative=200, false_positive=20)
    )
    page = page_text(comparison)
    assert page.count('src="data:image/png;base64,') == len(comparison.figures) == 7
    assert "<script" not in page and "<link" not in page
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    assert "missed churner 200, wasted offer 20" in page


def test_the_page_says_what_the_oracle_is(trained_settings: Settings) -> None:
    """The ROC figure's reading says the oracle is the true churn probabilities on these same
    customers, which a model can land above on a sample (it called the oracle "the ceiling any
    model can reach"); each figure that draws the oracle's dashed line says so (the
    precision–recall and gains readings did not)."""
    comparison = evaluate_versions(trained_settings, [], None)
    assert comparison.oracle_auc is not None  # v1 was trained on the generator's data
    page = page_text(comparison)
    said = " ".join(page.split())
    assert "ceiling" not in said
    assert "ranks these same customers by their true churn probabilities" in said
    assert "they are a sample, so a model can land a little above it" in said
    cards = re.findall(r"<h3>(.*?)</h3><p[^>]*>(.*?)</p>", page)
    drawn_with_oracle = {"ROC curves", "Precision–recall curves", "Cumulative gains"}
    assert {title for title, reading in cards if "oracle" in reading} == drawn_with_oracle


def test_importance_is_per_declared_feature(trained_settings: Settings) -> None:
    """Permutation importance has one entry per declared feature (not per one-hot column), and
    the features the generator's churn depends on matter more than total charges, which it
    does not use."""
    (result,) = evaluate_versions(trained_settings, [], None).versions
    found = {i.feature: i.mean for i in result.importance}
    assert list(found) == DEFAULT_SCHEMA.feature_names
    assert found["tenure"] > found["total_charges"]
    assert found["contract_type"] > found["total_charges"]


def test_costs_draw_the_cost_curve(trained_settings: Settings) -> None:
    """With costs the cost curve is drawn and each version's expected cost reported; without,
    neither."""
    plain = evaluate_versions(trained_settings, [], None)
    assert "cost" not in plain.figures and "expected_cost" not in plain.versions[0].metrics
    costs = Costs(false_negative=200, false_positive=20)
    priced = evaluate_versions(trained_settings, [], None, costs=costs)
    assert priced.figures["cost"].is_file()
    assert priced.versions[0].metrics["expected_cost"] > 0


def test_one_class_data_draws_what_it_can(trained_settings: Settings, tmp_path: Path) -> None:
    """Customers who all stayed have no ROC curve: calibration and confusion are still drawn."""
    raw = pd.read_csv(trained_settings.processed_csv, dtype=str)
    path = tmp_path / "stayers.csv"
    raw[raw["churn"] == "0"].to_csv(path, index=False)
    comparison = evaluate_versions(trained_settings, [], path)
    assert set(comparison.figures) == {"calibration", "confusion"}
    assert comparison.versions[0].metrics["roc_auc"] is None
    assert "one class only" in page_text(comparison)


def test_refuses_an_empty_registry(tmp_path: Path) -> None:
    """With nothing registered it says to train first."""
    with pytest.raises(BadInputError, match="churnops train"):
        evaluate_versions(load_settings(home=tmp_path), [], None)


def test_refuses_an_unknown_version(trained_settings: Settings) -> None:
    """An unknown version is bad input that lists the registered ones."""
    with pytest.raises(BadInputError, match="registered: v1"):
        evaluate_versions(trained_settings, ["v9"], None)


def test_refuses_a_csv_without_a_usable_row(trained_settings: Settings, tmp_path: Path) -> None:
    """A CSV whose every row fails the checks is refused with a pointer to prepare."""
    path = tmp_path / "bad.csv"
    path.write_text(
        "tenure,monthly_charges,total_charges,contract_type,payment_method,churn\n"
        "-1,50,50,One year,Mailed check,1\n",
        encoding="utf-8",
    )
    with pytest.raises(BadInputError, match="churnops prepare"):
        evaluate_versions(trained_settings, [], path)


def test_refuses_a_corrupted_version(trained_settings: Settings) -> None:
    """A version whose ONNX file changed is not evaluated."""
    registry = Registry(trained_settings)
    onnx = registry.onnx_path(registry.read().versions[0])
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    with pytest.raises(CheckFailedError, match="SHA-256"):
        evaluate_versions(trained_settings, ["v1"], None)
