"""Evaluation of registered versions on their hold-out or on a labelled CSV, with PNG reports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from churnops import workflow
from churnops.errors import BadInputError, CheckFailedError
from churnops.model.evaluate import evaluate_versions, parse_version
from churnops.registry.store import Registry
from churnops.settings import Settings, load_settings

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("text", "number"), [("v3", 3), ("3", 3), (" V12 ", 12)])
def test_parse_version_accepts_vn_or_n(text: str, number: int) -> None:
    """Versions are written v3, V3 or 3."""
    assert parse_version(text) == number


@pytest.mark.parametrize("text", ["", "v", "x1", "v-1", "1.5", "latest"])
def test_parse_version_refuses_anything_else(text: str) -> None:
    """Anything else is bad input that shows the expected form."""
    with pytest.raises(BadInputError, match="like v3"):
        parse_version(text)


def _assert_png(path: Path, reports: Path) -> None:
    assert path.parent == reports
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_current_version_on_its_hold_out(trained_settings: Settings) -> None:
    """Without arguments it evaluates the current version on its stored hold-out, reproducing the
    training metrics, and writes a ROC and a confusion-matrix PNG under reports/."""
    (result,) = evaluate_versions(trained_settings, [], None)
    entry = Registry(trained_settings).read().versions[0]
    assert result.name == "v1"
    assert result.metrics["rows"] == entry.metrics["rows"]
    assert result.metrics["confusion_matrix"] == entry.metrics["confusion_matrix"]
    assert result.metrics["roc_auc"] == pytest.approx(entry.metrics["roc_auc"], abs=1e-4)
    _assert_png(result.roc_png, trained_settings.reports_dir)
    _assert_png(result.confusion_png, trained_settings.reports_dir)


def test_versions_side_by_side_on_a_csv(trained_settings: Settings) -> None:
    """Several versions are scored on one labelled CSV (dirty rows dropped), a result each."""
    workflow.train_step(trained_settings, force=True)
    results = evaluate_versions(trained_settings, ["v1", "2"], trained_settings.raw_csv)
    assert [r.name for r in results] == ["v1", "v2"]
    clean_rows = len(pd.read_csv(trained_settings.processed_csv))
    assert all(r.metrics["rows"] == clean_rows for r in results)
    assert results[0].metrics["roc_auc"] == pytest.approx(results[1].metrics["roc_auc"])
    for result in results:
        _assert_png(result.roc_png, trained_settings.reports_dir)
    as_dict = results[1].as_dict()
    assert as_dict["version"] == "v2"
    assert Path(str(as_dict["roc_png"])).exists()


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
