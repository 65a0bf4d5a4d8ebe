"""A serving install (``churnops[serve]`` alone, from uv.lock) carries no training, plotting or
validation library, and still serves, verifies and rolls back models."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from container_support import TRAINING_ONLY

ROOT = Path(__file__).resolve().parents[2]
UV = str(Path(sys.executable).with_name("uv"))
VERIFY = """
import pandas as pd
from churnops.registry.promotion import verify
from churnops.registry.store import Registry
from churnops.schema import SEED_EXAMPLE
from churnops.settings import Settings
registry = Registry(Settings(home="home"))
model = verify(registry, registry.read().current)
print(model.predict_frame(pd.DataFrame([dict(SEED_EXAMPLE)]))[0])
"""


def run(*command: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def serve_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment holding churnops[serve] at the locked versions."""
    folder = tmp_path_factory.mktemp("serve-only")
    requirements = folder / "requirements.txt"
    steps = [
        (UV, "export", "--quiet", "--frozen", "--no-emit-project", "--extra", "serve",
         "--output-file", requirements),
        (UV, "venv", "--quiet", "--python", sys.executable, folder / "venv"),
        (UV, "pip", "install", "--quiet", "--python", folder / "venv", "-r", requirements),
        (UV, "pip", "install", "--quiet", "--python", folder / "venv", "--no-deps", ROOT),
    ]  # fmt: skip
    for step in steps:
        result = run(*step)
        assert result.returncode == 0, result.stderr
    return folder / "venv" / "bin" / "python"


@pytest.mark.slow
def test_the_api_imports_without_training_libraries(serve_python: Path) -> None:
    """None of the training libraries is installed, and the API module imports."""
    probe = (
        "import importlib.util, json, churnops.api; "
        f"print(json.dumps([m for m in {TRAINING_ONLY!r} if importlib.util.find_spec(m)]))"
    )
    result = run(serve_python, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


@pytest.mark.slow
def test_a_serving_install_verifies_and_rolls_back(
    serve_python: Path, _trained_template: Path, tmp_path: Path
) -> None:
    """On a trained home, the serving install verifies the current model (its Parquet sample
    read without pyarrow), lists the registry, and a training command says which extra it
    needs in one line (exit 2) instead of a traceback."""
    home = shutil.copytree(_trained_template, tmp_path / "home")
    checked = run(serve_python, "-c", VERIFY, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert 0 <= float(checked.stdout) <= 1
    churnops = serve_python.with_name("churnops")
    assert run(churnops, "registry", "list", "--home", home).returncode == 0
    refused = run(churnops, "train", "--home", home)
    assert refused.returncode == 2, refused.stderr
    assert "churnops[train]" in refused.stderr and "Traceback" not in refused.stderr
