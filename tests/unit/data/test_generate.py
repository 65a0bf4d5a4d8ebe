"""The synthetic customer base: seeded, of the documented size and churn rate, dirty on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churnops import workflow
from churnops.data.generate import (
    DIRT,
    TARGET_CHURN_RATE,
    Generated,
    churn_logit_without_intercept,
    generate,
    write_csv,
)
from churnops.data.prepare import prepare_frame
from churnops.schema import DEFAULT_SCHEMA
from churnops.settings import load_settings

ROWS = 10_000
COLUMNS = [DEFAULT_SCHEMA.id_column, *DEFAULT_SCHEMA.feature_names, DEFAULT_SCHEMA.label]


@pytest.fixture(scope="module")
def generated() -> Generated:
    return generate(ROWS, seed=42)


@pytest.fixture(scope="module")
def raw_text(generated: Generated, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The written CSV read back cell by cell as text, as a user opening it would see it."""
    path = tmp_path_factory.mktemp("generate") / "raw.csv"
    write_csv(generated.table, path)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _numbers(column: pd.Series) -> pd.Series:
    return pd.to_numeric(column.str.strip().replace("", None), errors="coerce")


def test_same_seed_gives_the_same_file_bytes(tmp_path: Path) -> None:
    """It writes byte-identical files for the same seed and different ones for another seed."""
    paths = [tmp_path / name for name in ("a.csv", "b.csv", "c.csv")]
    for path, seed in zip(paths, (7, 7, 8), strict=True):
        write_csv(generate(2_000, seed=seed).table, path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_generate_step_writes_the_csv_and_its_metadata(tmp_path: Path) -> None:
    """It writes data/raw.csv and data/raw.meta.json with seed, rows, churn rate and oracle AUC."""
    settings = load_settings(home=tmp_path, rows=1_500, seed=11)
    result = workflow.generate_step(settings)
    meta = json.loads(settings.raw_meta.read_text(encoding="utf-8"))
    assert meta["seed"] == 11
    assert meta["rows"] == 1_500
    assert meta["churn_rate"] == pytest.approx(result.frame["churn"].mean())
    assert 0.5 < meta["oracle_roc_auc"] < 1
    assert meta["rows_written"] == len(pd.read_csv(settings.raw_csv))


def test_row_count_and_columns(generated: Generated, raw_text: pd.DataFrame) -> None:
    """It writes the requested customers plus the documented duplicate rows, in schema order."""
    duplicates = round(ROWS * DIRT["duplicate_id"])
    assert list(raw_text.columns) == COLUMNS
    assert len(raw_text) == ROWS + duplicates == generated.meta["rows_written"]
    assert list(generated.frame.columns) == COLUMNS
    assert len(generated.frame) == ROWS


def test_clean_frame_satisfies_the_declared_schema(generated: Generated) -> None:
    """Before dirt, every row passes every declared rule: ranges, whole months, categories,
    labels, unique ids and billing consistency."""
    frame = generated.frame
    DEFAULT_SCHEMA.pandera_schema().validate(frame, lazy=True)
    for feature in DEFAULT_SCHEMA.numeric:
        assert frame[feature.name].between(feature.min, feature.max).all(), feature.name
    assert set(frame["churn"].unique()) == {0, 1}


def test_churn_rate_is_about_a_quarter(generated: Generated) -> None:
    """The intercept is solved so the mean churn probability is 25 %; the drawn rate follows."""
    assert generated.churn_probability.mean() == pytest.approx(TARGET_CHURN_RATE, abs=1e-6)
    # 3 binomial standard deviations at 10,000 rows is 0.013
    assert generated.meta["churn_rate"] == pytest.approx(TARGET_CHURN_RATE, abs=0.015)
    assert generated.meta["churn_rate"] == pytest.approx(generated.frame["churn"].mean())


def test_oracle_auc_is_the_auc_of_the_true_probabilities(generated: Generated) -> None:
    """raw.meta.json's oracle AUC is the ROC AUC of the ground-truth probabilities."""
    expected = roc_auc_score(generated.frame["churn"], generated.churn_probability)
    assert generated.meta["oracle_roc_auc"] == pytest.approx(expected)
    assert 0.8 < float(expected) < 0.92


@pytest.mark.parametrize(
    ("change", "direction"),
    [
        ({"contract_type": "Two year"}, -1),  # longer contracts keep customers
        ({"payment_method": "Credit card (automatic)"}, -1),  # electronic check is riskier
        ({"tenure": 60}, -1),  # loyalty lowers the risk
        ({"monthly_charges": 110.0}, +1),  # a bigger bill raises it
    ],
)
def test_ground_truth_directions(change: dict[str, object], direction: int) -> None:
    """The documented logit moves churn risk in the documented direction, all else equal."""
    base = {
        "tenure": 6,
        "monthly_charges": 70.0,
        "contract_type": "Month-to-month",
        "payment_method": "Electronic check",
    }
    logits = churn_logit_without_intercept(pd.DataFrame([base, {**base, **change}]))
    assert np.sign(logits[1] - logits[0]) == direction


def test_documented_dirt_is_present(raw_text: pd.DataFrame) -> None:
    """Every documented kind of dirt is in the file, at about its documented share."""

    def about(share: float) -> tuple[int, int]:
        expected = round(ROWS * share)
        return expected // 2, expected * 2 + 5

    numeric = ["tenure", "monthly_charges", "total_charges"]
    empty = sum(int((raw_text[c] == "").sum()) for c in numeric)
    low, high = about(DIRT["missing_numeric"])
    assert low <= empty <= high
    whitespace_total = int((raw_text["total_charges"] == " ").sum())
    low, high = about(DIRT["blank_total"])
    assert low <= whitespace_total <= high
    negative = int((_numbers(raw_text["tenure"]) < 0).sum())
    negative += int((_numbers(raw_text["monthly_charges"]) < 0).sum())
    low, high = about(DIRT["out_of_range"])
    assert low <= negative <= high
    assert raw_text["customer_id"].duplicated().sum() == round(ROWS * DIRT["duplicate_id"])
    respelled = sum(
        int((~raw_text[f.name].isin(f.categories)).sum()) for f in DEFAULT_SCHEMA.categorical
    )
    low, high = about(DIRT["category_spelling"])
    assert low <= respelled <= high
    low, high = about(DIRT["missing_label"])
    assert low <= int((raw_text["churn"] == "").sum()) <= high
    frame = pd.DataFrame({c: _numbers(raw_text[c]) for c in numeric})
    frame = frame[(frame["tenure"] >= 0) & (frame["monthly_charges"] >= 0)]  # not the above
    expected = frame["tenure"] * frame["monthly_charges"]
    inflated = int((frame["total_charges"] > 2 * expected + frame["monthly_charges"]).sum())
    low, high = about(DIRT["inconsistent_total"])
    assert low <= inflated <= high


def test_respelled_categories_are_only_spelling(raw_text: pd.DataFrame) -> None:
    """Every respelled category is a case, space or alias variant that prepare maps back."""
    _clean, _rejected, checks = prepare_frame(raw_text.astype("str"))
    assert checks["unknown_categories"] == {f.name: {} for f in DEFAULT_SCHEMA.categorical}
    assert sum(checks["spelling_normalised"].values()) > 0


def test_without_dirt_the_table_is_the_clean_frame() -> None:
    """With dirt off, the written table holds exactly the clean frame."""
    result = generate(500, seed=3, dirt=False)
    assert result.table.to_pandas().equals(result.frame)
    assert result.meta["dirt"] == {}
