"""The stages follow the project file: generate refuses a schema it cannot write, prepare lists
what it does not use, and a retrain identical to the current version registers nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemas_support as tables
from cli_support import RunCli

from churnops import workflow
from churnops.registry.store import Registry
from churnops.settings import Settings, load_settings


def test_generate_refuses_another_schema(run_cli: RunCli, tmp_path: Path) -> None:
    """With a project file for other columns, generate says it only writes the built-in
    schema's data: exit 2, one line, nothing written."""
    source = tables.write_csv(tables.minimal(200), tmp_path / "mine.csv")
    assert run_cli("init", "--from", source, "--home", tmp_path).code == 0
    run = run_cli("generate", "--home", tmp_path, "--rows", "100")
    assert run.code == 2
    (line,) = [text for text in run.err.splitlines() if text.strip()]
    assert "built-in schema" in line and "churnops.yaml" in line
    assert not (tmp_path / "data").exists()


def test_generate_accepts_a_project_file_of_the_built_in_columns(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A project file drafted from the generator's own data (same columns, types and categories,
    other ranges) lets generate and the whole pipeline run."""
    other = tmp_path / "other"
    assert run_cli("generate", "--home", other, "--rows", "3000").code == 0
    home = tmp_path / "home"
    raw = other / "data" / "raw.csv"
    assert run_cli("init", "--from", raw, "--home", home).code == 0
    run = run_cli("pipeline", "--home", home, "--rows", "3000", "--json")
    assert run.code == 0, run.err
    assert run.json()["prepare"]["rows_clean"] > 2_800


def test_prepare_lists_columns_it_does_not_use(run_cli: RunCli, tmp_path: Path) -> None:
    """The terminal summary names the CSV columns the schema does not use."""
    source = tables.write_csv(tables.minimal(300).assign(region="north"), tmp_path / "in.csv")
    (tmp_path / "churnops.yaml").write_text(
        "label: {column: churned, churned: [true], stayed: [false]}\n"
        "features:\n  - {name: plan, type: categorical, categories: [basic, pro, enterprise]}\n",
        encoding="utf-8",
    )
    run = run_cli("prepare", "--home", tmp_path, "--input", source)
    assert run.code == 0, run.err
    assert "not used: usage_hours, region" in run.out.replace("\n", " ")


@pytest.fixture
def same_settings(trained_home: Path) -> Settings:
    """Settings identical to those that trained the shared home's v1."""
    return load_settings(home=trained_home, rows=4_000, n_estimators=60)


def test_an_identical_retrain_registers_nothing(same_settings: Settings) -> None:
    """Same data (SHA-256), schema and parameters as the current version: nothing is registered
    and the result names the current version; with force a new version is registered."""
    registry = Registry(same_settings)
    before = registry.metadata_path.read_bytes()
    result = workflow.train_step(same_settings)
    assert result.registered is None and result.unchanged is not None
    assert result.unchanged.version == 1
    assert registry.metadata_path.read_bytes() == before
    forced = workflow.train_step(same_settings, force=True)
    assert forced.registered is not None and forced.registered.entry.version == 2


def test_a_changed_parameter_is_a_new_version(same_settings: Settings) -> None:
    """One more tree is a different model: registered as v2."""
    changed = same_settings.model_copy(update={"n_estimators": 61})
    result = workflow.train_step(changed)
    assert result.registered is not None and result.registered.entry.version == 2


def test_train_says_so_on_the_command_line(
    run_cli: RunCli, trained_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`churnops train` on unchanged data exits 0 and says nothing was registered and why."""
    monkeypatch.setenv("CHURNOPS_N_ESTIMATORS", "60")
    run = run_cli("train", "--home", trained_home)
    assert run.code == 0, run.err
    text = " ".join(run.out.split())
    assert "nothing registered: v1 was trained on the same data (SHA-256)" in text
    assert "--force" in text
    result = run_cli("train", "--home", trained_home, "--json").json()
    assert (result["status"], result["registered"], result["version"]) == ("unchanged", False, 1)
