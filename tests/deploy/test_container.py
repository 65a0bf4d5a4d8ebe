"""The image, built and run for real with podman: it serves, swaps, stops cleanly, runs jobs."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from container_support import (
    IMAGE_UID,
    LIMITS,
    ROOT,
    TRAINING_ONLY,
    Images,
    inspect,
    podman,
    run_job,
    wait_until,
)
from integration.api_support import free_port, in_background, logged_rows, run_load

from churnops.settings import load_settings

pytestmark = [pytest.mark.container, pytest.mark.slow]

SERVING_IMAGE_LIMIT_MB = 450
LOAD_ROWS = 200  # answered before the stop, so that it lands under load


@contextmanager
def serving(image: str, home: Path, port: int) -> Iterator[str]:
    """The serving image on ``home``, read-only root filesystem, published on ``port``."""
    name = f"churnops-test-api-{port}"
    podman(
        "run", "--detach", "--name", name, "--read-only", *LIMITS,
        "--volume", f"{home}:/data", "--publish", f"127.0.0.1:{port}:8000",
        "--env", "CHURNOPS_POLL_INTERVAL=0.2", image,
    )  # fmt: skip
    try:
        yield name
    finally:
        podman("rm", "--force", name, check=False)


def seed_curl(port: int) -> dict[str, object]:
    """The README's curl, run as written (but for the port)."""
    readme = (ROOT / "README.md").read_text("utf-8")
    command = re.search(r"```bash\n(curl -X POST .*?/predict.*?)\n```", readme, re.S)
    assert command, "the README's seed curl is gone"
    text = command.group(1).replace("\\\n", " ").replace(":8000", f":{port}")
    answer = subprocess.run(
        [*shlex.split(text), "--fail", "--silent"], capture_output=True, text=True, timeout=30
    )
    assert answer.returncode == 0, answer.stderr
    body: dict[str, object] = json.loads(answer.stdout)
    return body


def rows_scored(url: str) -> float:
    """Rows the API has scored so far, from its /metrics (every model version)."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(map(float, re.findall(r"^churnops_predictions_total\{.*\} (\S+)$", text, re.M)))


def answering_version(url: str) -> int:
    return int(httpx.get(f"{url}/model-info", timeout=5).json()["version"])


def test_serving_image_answers_swaps_and_loses_no_row_on_stop(
    images: Images, container_home: Path
) -> None:
    """The serving image, as uid 10001 on a read-only root filesystem, answers the seed's curl,
    passes its HEALTHCHECK, follows a rollback run through ``exec``, and after ``podman stop``
    under load has logged exactly the requests it answered. The full image then runs the
    drift job over that log."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(images.serve, container_home, port) as name:
        wait_until(lambda: httpx.get(f"{url}/health/ready", timeout=2).is_success, "ready")
        answer = seed_curl(port)
        assert answer["model_version"] == 2
        assert 0 <= float(answer["churn_probability"]) <= 1  # type: ignore[arg-type]

        assert podman("healthcheck", "run", name, check=False).returncode == 0
        assert podman("exec", name, "id", "-u").stdout.strip() == str(IMAGE_UID)
        assert inspect(name)["HostConfig"]["ReadonlyRootfs"] is True  # type: ignore[index]
        assert podman("exec", name, "touch", "/opt/churnops/x", check=False).returncode != 0

        podman("exec", name, "churnops", "rollback")
        wait_until(lambda: answering_version(url) == 1, "the rollback to reach the API")

        stopped = threading.Event()
        load = in_background(lambda: run_load(url, stopped.is_set))
        wait_until(lambda: rows_scored(url) > LOAD_ROWS, "the load to build up")  # + the curl
        podman("stop", "--time", "60", name)
        stopped.set()
        answered = load().ok
        state = inspect(name)["State"]
        assert state["ExitCode"] in (0, 143), state  # type: ignore[index]
    assert answered >= LOAD_ROWS
    assert logged_rows(load_settings(home=container_home)) == answered + 1  # + the seed curl

    run_job(images.full, container_home, "drift", "--last", "24h")
    report = json.loads((container_home / "reports" / "drift_latest.json").read_text("utf-8"))
    rows = {group["model_version"]: group["rows"] for group in report["groups"]}
    assert rows[1] == answered  # everything after the rollback was v1's, judged against v1


def test_image_sizes(images: Images) -> None:
    """The serving image stays under its budget, with no training library in it; both sizes
    are printed for the record."""
    probe = f"import importlib.util as u; print([m for m in {TRAINING_ONLY} if u.find_spec(m)])"
    found = podman("run", "--rm", *LIMITS, "--entrypoint", "python3", images.serve, "-c", probe)
    assert found.stdout.strip() == "[]"
    serve, full = images.size_mb(images.serve), images.size_mb(images.full)
    print(f"\nimage sizes: serving {serve:.0f} MB, full {full:.0f} MB")
    assert serve <= SERVING_IMAGE_LIMIT_MB
    assert full > serve
