"""Drift and simulate on the user's own tables (telecom export, bank table, minimal table):
customers are drawn from the serving version's reference sample, files and log rows are read
and judged with each version's stored schema, and a shift needing a feature the schema lacks
is refused.

Each test taking ``schema_home`` runs once per table (see ``tests/schema_homes.py``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import schemas_support as tables
from cli_support import RunCli, assert_one_line_error
from schema_homes import (
    MOVED,
    SchemaHome,
    Template,
    copy_of,
    customers,
    log_scored,
    scored,
    shifted,
)

from churnops import workflow
from churnops.atomic import atomic_write_text
from churnops.data.infer import draft_project, render
from churnops.monitoring.reference import reference_sample
from churnops.monitoring.simulate import Population, payloads, simulated_frame
from churnops.project import PROJECT_FILE
from churnops.registry.store import Registry
from churnops.schema import FeatureSchema
from churnops.settings import Settings, load_settings

HOUR = 3_600.0
# a named shift each table's schema cannot take, and a feature it names
UNFIT = {
    "telecom": ("contract-shift", "contract_type"),
    "bank": ("price-increase", "monthly_charges"),
    "minimal": ("new-customers", "tenure"),
}


def report_of(run_cli: RunCli, *args: str | Path) -> tuple[int, dict[str, Any]]:
    result = run_cli("drift", *args, "--json")
    assert result.code in (0, 1), result.out + result.err
    return result.code, json.loads(result.out)


def test_simulate_draws_rows_of_the_schema_from_the_reference_sample(
    schema_home: SchemaHome, run_cli: RunCli, tmp_path: Path
) -> None:
    """It writes customers of the serving version's schema (id, then the features by name),
    drawn from v1's reference sample: declared values only, whole numbers for int features,
    the same rows for the same seed; and the JSON bodies it would send carry ints as ints."""
    home, schema = schema_home.home, schema_home.schema
    out = tmp_path / "rows.csv"
    written = run_cli("simulate", "--home", home, "--rows", 600, "--out", out, "--json")
    assert written.code == 0, written.err
    assert written.json()["source"] == "v1's reference sample"
    rows = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(rows.columns) == [schema.id_column, *schema.feature_names]
    assert len(rows) == 600 and rows[schema.id_column].is_unique
    for number in schema.numeric:
        values = rows[number.name].astype(float)
        assert values.between(number.min, number.max).all(), number.name
        if number.kind == "int":
            assert rows[number.name].str.fullmatch(r"-?[0-9]+").all(), number.name
    for category in schema.categorical:
        assert set(rows[category.name]) <= set(category.categories), category.name

    again = tmp_path / "again.csv"
    assert run_cli("simulate", "--home", home, "--rows", 600, "--out", again).code == 0
    assert again.read_bytes() == out.read_bytes()
    other = tmp_path / "other.csv"
    assert run_cli("simulate", "--home", home, "--rows", 600, "--seed", 8, "--out", other).code == 0
    assert other.read_bytes() != out.read_bytes()

    bodies = payloads(customers(schema_home, 50, 7), schema)
    for name in schema.int_names:
        assert all(type(body[name]) is int for body in bodies), name


def test_drift_on_a_file_like_the_training_data_and_on_a_shifted_copy(
    schema_home: SchemaHome, run_cli: RunCli, tmp_path: Path
) -> None:
    """It judges a batch-scoring file (simulated customers and v1's probabilities) against
    v1's reference with v1's schema: every declared feature compared and no drift on like
    data; drift on a copy in which one feature moved, naming that feature."""
    home, schema, shape = schema_home.home, schema_home.schema, schema_home.shape
    rows = customers(schema_home, 1_500, 11)
    like = tmp_path / "like.csv"
    scored(schema_home.settings, rows, 1).to_csv(like, index=False)
    code, report = report_of(run_cli, "--home", home, "--current", like)
    assert code == 0 and report["drift_detected"] is False, report["features"]
    assert set(report["features"]) == set(schema.feature_names)
    assert all(entry["status"] != "not compared" for entry in report["features"].values())
    assert report["prediction"]["status"] != "not compared"
    assert report["groups"][0]["reference"]["label"] == "v1"

    moved = tmp_path / "moved.csv"
    scored(schema_home.settings, shifted(rows, shape, schema, 12), 1).to_csv(moved, index=False)
    code, report = report_of(run_cli, "--home", home, "--current", moved)
    assert code == 1
    assert report["features"][MOVED[shape]]["status"] == "drift"


def test_named_shifts_move_the_features_they_name_in_a_user_schema(
    _schema_templates: Template, run_cli: RunCli, tmp_path: Path
) -> None:
    """The telecom table names its bills like the built-in schema: `--shift price-increase`
    raises them by 10 % in the drawn customers, and drift finds both bills drifting."""
    project = copy_of(_schema_templates("telecom"), tmp_path / "home")
    paths = {shift: tmp_path / f"{shift}.csv" for shift in ("none", "price-increase")}
    for shift, path in paths.items():
        args = ("--home", project.home, "--rows", 3_000, "--shift", shift, "--out", path)
        assert run_cli("simulate", *args).code == 0
    plain, pricier = (pd.read_csv(path) for path in paths.values())
    kept = pricier["monthly_charges"] < project.schema.numeric_feature("monthly_charges").max
    ratio = pricier["monthly_charges"][kept] / plain["monthly_charges"][kept]
    assert np.allclose(ratio, 1.10, atol=0.01)
    assert pricier.drop(columns=["monthly_charges", "total_charges"]).equals(
        plain.drop(columns=["monthly_charges", "total_charges"])
    )
    _, report = report_of(run_cli, "--home", project.home, "--current", paths["price-increase"])
    statuses = {name: entry["status"] for name, entry in report["features"].items()}
    assert statuses["monthly_charges"] == statuses["total_charges"] == "drift", statuses


def test_drift_reads_an_export_by_the_schemas_csv_columns(
    schema_home: SchemaHome, run_cli: RunCli, tmp_path: Path
) -> None:
    """It reads a fresh export of the user's table (CamelCase headers, numbers as text with
    blanks, the label and unused columns too) by the CSV columns the schema declares, compares
    every feature and finds no drift, and says how it read the file."""
    export = tables.write_csv(tables.BUILDERS[schema_home.shape](2_000, 99), tmp_path / "new.csv")
    code, report = report_of(run_cli, "--home", schema_home.home, "--current", export)
    assert code == 0 and report["drift_detected"] is False, report["features"]
    assert all(entry["status"] != "not compared" for entry in report["features"].values())
    sources = schema_home.schema.sources()
    if any(sources[name] != name for name in schema_home.schema.feature_names):
        assert any("CSV column names" in note for note in report["notes"]), report["notes"]


def test_a_file_against_a_reference_file_is_read_with_the_project_file(
    schema_home: SchemaHome, run_cli: RunCli, tmp_path: Path
) -> None:
    """With --reference FILE no model version is involved: both files are read with the
    project file given by --schema, every feature compared."""
    home = schema_home.home
    project = tmp_path / "project.yaml"
    (home / PROJECT_FILE).rename(project)
    reference = tmp_path / "reference.csv"
    sample = Registry(schema_home.settings).version_dir(1) / "reference.parquet"
    pd.read_parquet(sample).to_csv(reference, index=False)
    like = tmp_path / "like.csv"
    customers(schema_home, 1_000, 41).to_csv(like, index=False)
    args = ("--home", home, "--current", like, "--reference", reference, "--schema", project)
    code, report = report_of(run_cli, *args)
    assert code == 0 and report["source"]["reference"] == str(reference)
    assert set(report["features"]) == set(schema_home.schema.feature_names)
    assert all(entry["status"] != "not compared" for entry in report["features"].values())


def test_drift_over_the_log_of_a_user_schema(schema_home: SchemaHome, run_cli: RunCli) -> None:
    """It reads logged rows with the serving version's schema: no drift on like traffic, then
    drift naming the moved feature once shifted traffic follows."""
    settings, shape = schema_home.settings, schema_home.shape
    start = time.time() - 2 * HOUR
    log_scored(settings, customers(schema_home, 1_200, 21), 1, start)
    code, report = report_of(run_cli, "--home", schema_home.home)
    assert code == 0, report["features"]
    assert set(report["features"]) == set(schema_home.schema.feature_names)

    moved = shifted(customers(schema_home, 1_200, 22), shape, schema_home.schema, seed=23)
    log_scored(settings, moved, 1, start + HOUR)
    code, report = report_of(run_cli, "--home", schema_home.home, "--last", "1200")
    assert code == 1
    assert report["features"][MOVED[shape]]["status"] == "drift"


def test_a_shift_naming_a_feature_the_schema_lacks_is_bad_input(
    schema_home: SchemaHome, run_cli: RunCli, tmp_path: Path
) -> None:
    """It refuses, in one line, a named shift that moves a feature the serving version's
    schema does not have, names that feature and the shifts that fit, and writes nothing."""
    shift, feature = UNFIT[schema_home.shape]
    out = tmp_path / "rows.csv"
    refused = run_cli("simulate", "--home", schema_home.home, "--shift", shift, "--out", out)
    assert_one_line_error(refused, 2, shift, feature, "v1's schema lacks", "missing-values")
    assert not out.exists()


def test_simulate_needs_a_trained_version_for_a_user_schema(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """Before any training, a project file that is not the built-in schema has no reference
    sample to draw customers from: it says to train first (exit 2)."""
    source = tables.write_csv(tables.minimal(200), tmp_path / "minimal.csv")
    assert run_cli("init", "--from", source, "--home", tmp_path / "home").code == 0
    refused = run_cli("simulate", "--home", tmp_path / "home", "--out", tmp_path / "rows.csv")
    assert_one_line_error(refused, 2, "churnops train")


def test_the_built_in_schema_still_uses_the_generator(
    trained_home: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    """With the built-in schema, simulate writes the generator's rows, the same with or without
    a trained home."""
    with_home, without = tmp_path / "a.csv", tmp_path / "b.csv"
    (tmp_path / "empty").mkdir()  # a project folder nothing was trained in
    assert run_cli("simulate", "--home", trained_home, "--rows", 300, "--out", with_home).code == 0
    assert (
        run_cli("simulate", "--home", tmp_path / "empty", "--rows", 300, "--out", without).code == 0
    )
    assert with_home.read_bytes() == without.read_bytes()
    assert with_home.read_text(encoding="utf-8") == simulated_frame(300, 7, None).to_csv(
        index=False
    )


def _train_bank_as_v2(home: Path, tmp_path: Path) -> None:
    """The project moves to another table: a new project file, prepared and trained as v2."""
    source = tables.write_csv(tables.bank(), tmp_path / "bank.csv")
    atomic_write_text(home / PROJECT_FILE, render(draft_project(source, None, None)))
    settings = load_settings(home=home, n_estimators=40)
    workflow.prepare_step(settings, source)
    registered = workflow.train_step(settings).registered
    assert registered is not None and registered.entry.version == 2


def drawn_for(settings: Settings, version: int, rows: int, seed: int) -> pd.DataFrame:
    """Customers drawn from ``version``'s reference sample, of its schema."""
    registry = Registry(settings)
    entry = registry.require(registry.read(), version)
    schema = FeatureSchema.model_validate(entry.feature_schema)
    return simulated_frame(rows, seed, None, Population(schema, reference_sample(registry, entry)))


@pytest.mark.slow
def test_a_log_of_two_versions_with_different_schemas(
    _schema_templates: Template, run_cli: RunCli, tmp_path: Path
) -> None:
    """It reads each version's logged rows with that version's schema — v1 (minimal table) and
    v2 (bank table) share one log, each row holding only its version's columns — judges each
    against its own reference, and names the feature that moved in the version that moved."""
    project = copy_of(_schema_templates("minimal"), tmp_path / "home")
    _train_bank_as_v2(project.home, tmp_path)
    settings = project.settings
    start = time.time() - 3 * HOUR
    log_scored(settings, drawn_for(settings, 1, 900, 31), 1, start, step_s=2.0)
    log_scored(settings, drawn_for(settings, 2, 900, 32), 2, start + 1.0, step_s=2.0)
    code, report = report_of(run_cli, "--home", project.home)
    assert code == 0, report
    groups = {g["model_version"]: g for g in report["groups"]}
    assert set(groups[1]["features"]) == {"usage_hours", "plan"}
    assert len(groups[2]["features"]) == 10 and "balance" in groups[2]["features"]
    for group in groups.values():
        assert group["rows"] == 900 and group["skipped_features"] == {}
        assert all(entry["status"] != "not compared" for entry in group["features"].values())

    moved = shifted(drawn_for(settings, 1, 900, 33), "minimal", project.schema, seed=34)
    log_scored(settings, moved, 1, start + HOUR)
    code, report = report_of(run_cli, "--home", project.home)
    assert code == 1
    groups = {g["model_version"]: g for g in report["groups"]}
    assert groups[1]["features"]["plan"]["status"] == "drift"
    assert groups[2]["drift_detected"] is False
