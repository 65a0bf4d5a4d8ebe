"""Installed size of each extra: a fresh virtual environment per extra, from uv.lock.

    .venv/bin/python benchmarks/install_sizes.py

Prints the size of each environment's site-packages (the project itself included) and the
largest packages in it. Needs uv (in the dev environment) and its cache or the network.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV = str(Path(sys.executable).with_name("uv"))
EXTRAS = ("serve", "train", "all")


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def install(extra: str, folder: Path) -> Path:
    requirements = folder / "requirements.txt"
    venv = folder / "venv"
    for command in (
        [UV, "export", "--quiet", "--frozen", "--no-emit-project", "--extra", extra,
         "--output-file", str(requirements)],
        [UV, "venv", "--quiet", "--python", sys.executable, str(venv)],
        [UV, "pip", "install", "--quiet", "--python", str(venv), "-r", str(requirements)],
        [UV, "pip", "install", "--quiet", "--python", str(venv), "--no-deps", str(ROOT)],
    ):  # fmt: skip
        subprocess.run(command, cwd=ROOT, check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    return site


def main() -> None:
    print(f"{'extra':<8} {'installed':>10}   largest packages")
    for extra in EXTRAS:
        with tempfile.TemporaryDirectory() as tmp:
            site = install(extra, Path(tmp))
            packages = sorted(
                ((size_mb(p), p.name) for p in site.iterdir() if p.is_dir()), reverse=True
            )
            largest = ", ".join(f"{name} {mb:.0f}" for mb, name in packages[:5])
            print(f"{extra:<8} {size_mb(site):>7.0f} MB   {largest}")


if __name__ == "__main__":
    main()
