"""Building and running the project's images with podman, for the container tests.

The images are built with the Makefile's own targets (``make image-offline``: a local Debian
base image, a wheelhouse from uv.lock, then the serving and the full image), under a tag of
their own so that concurrent runs on one machine do not meet. podman runs as root with runc
and cgroupfs, as this machine requires (see the Makefile's CONTAINER).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
# This host's hard open-files limit is below podman's default for containers.
LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]
IMAGE_UID = 10001
# small and quick, like the other tests' trained homes
TRAIN_ENV = {"CHURNOPS_ROWS": "4000", "CHURNOPS_N_ESTIMATORS": "60"}
# what churnops[train] brings and a serving install must not carry
TRAINING_ONLY = ["sklearn", "skl2onnx", "joblib", "matplotlib", "pandera", "scipy", "pyarrow"]


def require_system_tools(*tools: str) -> None:
    """Skip when a Debian tool is missing and we are not root; as root ``make test`` installs
    them (see its SYSTEM_PACKAGES), so there a missing tool is a failure, not a skip."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if os.geteuid() != 0 and missing:
        pytest.skip(f"needs {missing}: run `make test` as root, or apt-get install them")
    assert not missing, f"{missing} missing: `make test` installs them with apt-get as root"


def require_podman() -> None:
    """Root podman (rootless podman needs another set-up than these tests make)."""
    if os.geteuid() != 0:
        pytest.skip("the container tests need root podman (run `make test` as root)")
    require_system_tools("podman", "runc", "debootstrap")


def podman(
    *args: str, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@dataclass(frozen=True)
class Images:
    serve: str
    full: str

    def size_mb(self, image: str) -> float:
        return int(podman("image", "inspect", image, "--format", "{{.Size}}").stdout) / 1e6


@contextmanager
def built_images() -> Iterator[Images]:
    """``make image-offline`` under a private name; the images are removed afterwards."""
    name = f"localhost/churnops-test-{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        ["make", "--no-print-directory", "image-offline", f"IMAGE={name}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, (
        f"make image-offline failed:\n{result.stdout[-3000:]}\n" + (result.stderr[-3000:])
    )
    version = subprocess.run(
        ["make", "--no-print-directory", "-s", "print-version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    images = Images(serve=f"{name}:{version}", full=f"{name}-full:{version}")
    try:
        yield images
    finally:
        podman("rmi", "--force", images.serve, images.full, check=False)


def run_job(image: str, home: Path, *command: str, env: dict[str, str] | None = None) -> str:
    """One CLI command in a throw-away container on ``home``, root filesystem read-only."""
    options = [f"--env={key}={value}" for key, value in (env or {}).items()]
    result = podman(
        "run", "--rm", "--read-only", *LIMITS, "--volume", f"{home}:/data", *options, image,
        *command, check=False,
    )  # fmt: skip
    assert result.returncode in (0, 1), f"{command}: {result.stdout}\n{result.stderr}"
    return result.stdout


def owned_by_image_user(home: Path) -> Path:
    """A host folder the image's non-root user can write (it is mounted as CHURNOPS_HOME)."""
    home.mkdir(parents=True, exist_ok=True)
    for path in [home, *home.rglob("*")]:
        os.chown(path, IMAGE_UID, IMAGE_UID)
    return home


def wait_until(check: Callable[[], object], what: str, timeout: float = 120.0) -> None:
    """Poll ``check()`` (truthy when done; transport errors count as not yet) until a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def inspect(container: str) -> dict[str, object]:
    data: list[dict[str, object]] = json.loads(podman("inspect", container).stdout)
    return data[0]
