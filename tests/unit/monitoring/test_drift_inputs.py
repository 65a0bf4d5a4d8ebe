"""Awkward inputs give clear verdicts or one-line errors, never a traceback or a NaN."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from drift_helpers import customers, drifted, judge_frames

from churnops.errors import BadInputError
from churnops.monitoring.results import CategoricalHistogram
from churnops.monitoring.run import DriftOptions, run_drift
from churnops.schema import DEFAULT_SCHEMA
from churnops.settings import Settings, load_settings


def strict_json(path: Path) -> dict:  # type: ignore[type-arg]
    def refuse(token: str) -> None:
        raise AssertionError(f"non-standard JSON constant {token}")

    loaded: dict = json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)  # type: ignore[type-arg]
    return loaded


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home")


def write(frame, path: Path) -> Path:  # type: ignore[no-untyped-def]
    frame.to_csv(path, index=False)
    return path


def test_nan_inf_and_text_in_numbers_count_as_missing(settings: Settings, tmp_path: Path) -> None:
    """It treats NaN, inf and non-numbers in a scoring file as missing values, says how many,
    and writes strict JSON."""
    reference = write(customers(3_000, 1), tmp_path / "ref.csv")
    current = customers(500, 2).astype({"monthly_charges": object})
    current.loc[:9, "monthly_charges"] = ["inf", "-inf", "NaN", "abc", "", None, 1e400, 5, 6, 7]
    run = run_drift(
        settings,
        DriftOptions(current=write(current, tmp_path / "cur.csv"), reference=reference),
    )
    report = strict_json(run.json_path)
    entry = report["features"]["monthly_charges"]  # the JSON file, as written
    assert entry["missing_rate_current"] == pytest.approx(7 / 500)
    assert any("not finite numbers" in note for note in report["notes"])


def test_constant_and_all_missing_features_do_not_divide_by_zero() -> None:
    """It compares a constant feature and an all-missing feature without errors: the constant
    one is ok, the all-missing one drifts on its missing rate."""
    reference = customers(3_000, 1)
    current = customers(1_000, 2)
    reference["tenure"] = 12
    current["tenure"] = 12
    current["payment_method"] = None
    result = judge_frames(reference, current)
    tenure = result.features["tenure"]
    assert tenure.status == "ok"
    assert tenure.reference_scale and tenure.reference_scale.spread_source == "schema range"
    payment = result.features["payment_method"]
    assert payment.status == "drift"
    assert payment.categorical and payment.categorical.chi2_p_value is None
    assert payment.missing_rate_current == 1.0


def test_unseen_categories_are_reported_not_crashed_on() -> None:
    """It counts values never seen in training, lists them and flags the feature."""
    current = customers(1_000, 2)
    current.loc[:29, "payment_method"] = "Crypto"
    current.loc[30:34, "contract_type"] = "Lifetime"
    result = judge_frames(customers(5_000, 1), current)
    payment = result.features["payment_method"]
    assert payment.unseen_values == {"Crypto": 30}
    assert payment.categorical and payment.categorical.unseen_share == pytest.approx(0.03)
    assert "payment_method" in drifted(result)
    assert result.features["contract_type"].status in {"warning", "drift"}


def test_reference_from_an_older_schema_compares_the_shared_features(
    settings: Settings, tmp_path: Path
) -> None:
    """It compares the features both sides have and reports the one the reference lacks as
    not compared, with the reason."""
    old = customers(3_000, 1).drop(columns=["payment_method"])
    run = run_drift(
        settings,
        DriftOptions(
            current=write(customers(500, 2), tmp_path / "cur.csv"),
            reference=write(old, tmp_path / "old.csv"),
        ),
    )
    group = run.report.groups[0]
    assert "payment_method" in group.skipped_features
    payment = run.report.features["payment_method"]
    assert payment.status == "not compared" and payment.drifted is False
    assert payment.reasons and "not in" in payment.reasons[0]
    compared = {n for n, e in run.report.features.items() if e.compared}
    assert compared == {"tenure", "monthly_charges", "total_charges", "contract_type"}


def test_a_table_without_any_feature_is_refused(settings: Settings, tmp_path: Path) -> None:
    """It refuses a reference that holds none of the schema's features."""
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="none of the schema's features"):
        run_drift(settings, DriftOptions(current=path, reference=path))


def test_too_few_rows_are_refused_with_the_minimum(settings: Settings, tmp_path: Path) -> None:
    """It refuses to judge a one-row file, saying how many rows a verdict needs."""
    reference = write(customers(1_000, 1), tmp_path / "ref.csv")
    one = write(customers(1, 2), tmp_path / "one.csv")
    with pytest.raises(BadInputError, match="at least 30 rows"):
        run_drift(settings, DriftOptions(current=one, reference=reference))


def test_window_options_are_refused_with_a_file(settings: Settings, tmp_path: Path) -> None:
    """It refuses --last together with --current (a file has no log window)."""
    path = write(customers(100, 2), tmp_path / "cur.csv")
    with pytest.raises(BadInputError, match="--current"):
        run_drift(settings, DriftOptions(current=path, reference=path, last="24h"))


def test_no_reference_and_no_registry_is_refused(settings: Settings, tmp_path: Path) -> None:
    """It asks for a reference when no model version is current."""
    path = write(customers(100, 2), tmp_path / "cur.csv")
    with pytest.raises(BadInputError, match="no model version is current"):
        run_drift(settings, DriftOptions(current=path))


def test_no_inference_log_is_refused(settings: Settings) -> None:
    """It says there is no inference log yet and how to get one."""
    with pytest.raises(BadInputError, match="does not exist yet: start the API"):
        run_drift(settings, DriftOptions(last="24h"))


def test_prediction_drift_from_a_file_column() -> None:
    """It tests prediction drift when both sides carry predicted probabilities."""
    rng = np.random.default_rng(0)
    reference = customers(3_000, 1).assign(prediction=rng.beta(2, 5, 3_000))
    current = customers(1_000, 2)
    result = judge_frames(reference, current, prediction=rng.beta(5, 2, 1_000))
    assert result.prediction is not None and result.prediction.status == "drift"
    assert result.drift_detected


def test_blank_cells_are_missing_not_invalid_numbers(settings: Settings, tmp_path: Path) -> None:
    """It counts blank (or space-only) cells in a scoring file as missing values, and only
    real non-numbers (text, inf) as 'not finite numbers'."""
    reference = write(customers(3_000, 1), tmp_path / "ref.csv")
    current = customers(500, 2).astype({"monthly_charges": object, "tenure": object})
    current.loc[:3, "monthly_charges"] = ["", "  ", None, "abc"]
    current.loc[:1, "tenure"] = ["", " "]
    run = run_drift(
        settings,
        DriftOptions(current=write(current, tmp_path / "cur.csv"), reference=reference),
    )
    notes = " ".join(run.report.notes)
    assert "monthly_charges: 1 value(s) were not finite numbers" in notes
    assert "tenure" not in notes
    assert run.report.features["monthly_charges"].missing_rate_current == 4 / 500
    assert run.report.features["tenure"].missing_rate_current == 2 / 500


def test_columns_missing_from_a_scoring_file_are_reported(
    settings: Settings, tmp_path: Path
) -> None:
    """It reports the features a --current file lacks as not compared, naming the file."""
    reference = write(customers(3_000, 1), tmp_path / "ref.csv")
    current = write(customers(500, 2).drop(columns=["tenure"]), tmp_path / "cur.csv")
    run = run_drift(settings, DriftOptions(current=current, reference=reference))
    tenure = run.report.features["tenure"]
    assert tenure.status == "not compared" and tenure.reasons and str(current) in tenure.reasons[0]
    assert "tenure" in run.report.groups[0].skipped_features


def test_a_reference_column_without_numbers_is_not_compared(
    settings: Settings, tmp_path: Path
) -> None:
    """It reports a feature whose reference column holds no number as not compared (never
    'ok'), and judges the others."""
    old = customers(3_000, 1).astype({"monthly_charges": object})
    old["monthly_charges"] = "n/a"
    run = run_drift(
        settings,
        DriftOptions(
            current=write(customers(500, 2), tmp_path / "cur.csv"),
            reference=write(old, tmp_path / "ref.csv"),
        ),
    )
    monthly = run.report.features["monthly_charges"]
    assert monthly.status == "not compared" and monthly.reasons and "no value" in monthly.reasons[0]
    assert run.report.features["tenure"].status == "ok"


def test_nothing_comparable_is_refused(settings: Settings, tmp_path: Path) -> None:
    """It refuses to give a verdict when no feature could be compared at all."""
    empty = customers(3_000, 1).astype(object)
    for name in ("tenure", "monthly_charges", "total_charges", "contract_type", "payment_method"):
        empty[name] = "" if name != "tenure" else "?"
    with pytest.raises(BadInputError, match="nothing could be compared"):
        run_drift(
            settings,
            DriftOptions(
                current=write(customers(500, 2), tmp_path / "cur.csv"),
                reference=write(empty, tmp_path / "ref.csv"),
            ),
        )


def test_a_feature_with_only_an_inconclusive_missing_rate_test_is_not_compared() -> None:
    """It calls a feature 'not compared' when the current rows have no value for it and the
    missing-rate test finds nothing (the reference was mostly missing too)."""
    reference = customers(3_000, 1)
    reference.loc[reference.index[:2_950], "total_charges"] = np.nan
    current = customers(40, 2)
    current["total_charges"] = np.nan
    entry = judge_frames(reference, current).features["total_charges"]
    assert entry.status == "not compared" and entry.drifted is False
    assert entry.reasons and "no present value in the current data" in entry.reasons[0]


def test_category_spellings_are_normalised_as_prepare_does() -> None:
    """It reads 'month-to-month', ' ONE YEAR ', 'two year' and 'bank transfer' in a file as
    the schema's categories (as prepare would), not as values never seen in training."""
    current = customers(1_000, 2)
    respell = {
        "Month-to-month": "month-to-month",
        "One year": " ONE YEAR ",
        "Two year": "two year",
    }
    current["contract_type"] = current["contract_type"].map(respell)
    current["payment_method"] = current["payment_method"].replace(
        {"Bank transfer (automatic)": "bank transfer"}
    )
    result = judge_frames(customers(5_000, 1), current)
    for name in ("contract_type", "payment_method"):
        assert result.features[name].unseen_values == {}, name
        assert result.features[name].status == "ok", name


def test_histograms_follow_the_schema_category_order() -> None:
    """It draws categories in the schema's order, whatever order the reference rows are in."""
    reference = customers(3_000, 1).sort_values("contract_type", ascending=False)
    current = customers(500, 2)
    current.loc[:4, "contract_type"] = "Lifetime"
    histogram = judge_frames(reference, current).features["contract_type"].histogram
    schema_order = list(DEFAULT_SCHEMA.categorical_feature("contract_type").categories)
    assert isinstance(histogram, CategoricalHistogram)
    assert histogram.categories == [*schema_order, "Lifetime"]
