"""The lab walkthrough's commands, run literally: `python src/<step>.py` from a project folder.

The project folder's ``src`` is a link to this repository's ``src``, so each command is exactly
what a user types at the repository root (where CHURNOPS_HOME defaults to the current folder),
while everything written lands in a temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from churnops import workflow
from churnops.settings import load_settings

SRC = Path(__file__).resolve().parents[2] / "src"
SCRIPTS = ("generate_data", "prepare_data", "train", "evaluate", "rollback")


def python(project: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python src/<script>.py ARGS` in ``project``, with small, fast settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURNOPS_")}
    env |= {"CHURNOPS_ROWS": "2000", "CHURNOPS_N_ESTIMATORS": "20", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, f"src/{script}.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "mlops-lab-01"
    folder.mkdir()
    (folder / "src").symlink_to(SRC, target_is_directory=True)
    return folder


def test_every_seed_script_exists() -> None:
    """Each walkthrough script is present in src/."""
    for script in SCRIPTS:
        assert (SRC / f"{script}.py").is_file(), script


def test_generate_data_runs_again_but_keeps_your_own_raw_csv(project: Path) -> None:
    """`python src/generate_data.py` twice replaces its own data/raw.csv; a CSV of yours in its
    place is refused (exit 2) and kept."""
    for _ in range(2):
        done = python(project, "generate_data")
        assert done.returncode == 0, done.stderr
    raw = project / "data" / "raw.csv"
    raw.write_text("customer_id,churn\nmine,1\n", encoding="utf-8")
    done = python(project, "generate_data")
    assert done.returncode == 2
    assert "already exists" in done.stderr and "--force" in done.stderr
    assert raw.read_text(encoding="utf-8") == "customer_id,churn\nmine,1\n"


@pytest.mark.slow
def test_walkthrough(project: Path) -> None:
    """generate → prepare → train → (a second version) → evaluate → rollback, as in the lab,
    each script exiting 0 and writing the documented files into the current folder."""
    done = python(project, "generate_data")
    assert done.returncode == 0, done.stderr
    assert (project / "data" / "raw.csv").is_file()
    meta = json.loads((project / "data" / "raw.meta.json").read_text("utf-8"))
    assert meta["rows"] == 2000

    done = python(project, "prepare_data")
    assert done.returncode == 0, done.stderr
    for name in ("processed.csv", "rejected.csv", "quality_report.json"):
        assert (project / "data" / name).is_file(), name

    done = python(project, "train")
    assert done.returncode == 0, done.stderr
    pointer = (project / "registry" / "current_model.txt").read_text("utf-8").strip()
    assert re.fullmatch(r"churn_model_v1_\d{8}_\d{6}\.joblib", pointer)
    assert (project / "models" / pointer).is_file()
    assert (project / "models" / pointer.replace(".joblib", ".onnx")).is_file()
    for name in ("metadata.json", "train_stats.json", "history.jsonl"):
        assert (project / "registry" / name).is_file(), name

    # a second version to roll back from (train.py itself was just exercised); other trees, as
    # a retrain identical to the current version registers nothing
    settings = load_settings(home=project, n_estimators=25, min_auc=0.0, max_auc_drop=1.0)
    assert workflow.train_step(settings).registered.entry.version == 2

    done = python(project, "evaluate")
    assert done.returncode == 0, done.stderr
    (report,) = (project / "reports").glob("evaluation_*_v2/report.html")
    assert len(list(report.parent.glob("*.png"))) == 6

    done = python(project, "rollback")
    assert done.returncode == 0, done.stderr
    pointer = (project / "registry" / "current_model.txt").read_text("utf-8").strip()
    assert pointer.startswith("churn_model_v1_")
    metadata = json.loads((project / "registry" / "metadata.json").read_text("utf-8"))
    assert metadata["current_version"] == 1
    assert set(os.listdir(project)) == {"src", "data", "models", "registry", "reports"}
