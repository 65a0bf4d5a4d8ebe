"""The package's metadata: one version, declared imports, the files a wheel must carry."""

from __future__ import annotations

import ast
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import churnops

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "churnops"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
PROJECT = PYPROJECT["project"]


def declared(*groups: str) -> set[str]:
    """Distribution names required by the core and the given extras (self-references dropped)."""
    lines = list(PROJECT["dependencies"])
    for group in groups:
        lines += PROJECT["optional-dependencies"][group]
    names = {canonicalize_name(Requirement(line).name) for line in lines}
    return names - {"churnops"}


def imported_modules(folder: Path) -> set[str]:
    """Top-level names of every module imported anywhere under ``folder`` (any depth)."""
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"churnops", "__future__"}


def distributions_of(modules: set[str]) -> set[str]:
    owners = packages_distributions()
    return {canonicalize_name(dist) for module in modules for dist in owners.get(module, [module])}


def test_one_version_source() -> None:
    """The version is written once, in churnops/__init__.py; the metadata reads it from there."""
    assert PROJECT["dynamic"] == ["version"] and "version" not in PROJECT
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "churnops.__version__"
    assert version("churnops") == churnops.__version__


# declared but used through another library, never imported by name
USED_INDIRECTLY = {"fastparquet"}  # pandas' Parquet engine where pyarrow is not installed


def test_every_imported_library_is_declared() -> None:
    """A library the package imports directly is a declared requirement (not left to arrive
    through another one), and every declared runtime requirement is imported somewhere."""
    runtime = declared("serve", "train", "spark")
    used = distributions_of(imported_modules(PACKAGE))
    assert sorted(used - runtime) == []
    assert sorted(runtime - used) == sorted(USED_INDIRECTLY)


def test_the_wheel_carries_license_and_type_marker(tmp_path: Path) -> None:
    """A built wheel holds py.typed (typed package) and the MIT LICENSE the metadata names."""
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "uv", "build", "--wheel", "--out-dir", str(tmp_path), "--quiet"],
        cwd=ROOT,
        check=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("churnops-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
    assert "churnops/py.typed" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert "License-Expression: MIT" in text
    assert f"Version: {churnops.__version__}" in text
