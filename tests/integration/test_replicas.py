"""Replicas on one PostgreSQL database: two real API processes, each with its own empty home,
follow a promote and a rollback made by a third process — woken by the commit's NOTIFY."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from api_support import SEED_BODY, Server, churnops_command, free_port, running, uvicorn_command

from churnops import workflow
from churnops.database.url import DatabaseUrl
from churnops.settings import load_settings

SWITCH_DEADLINE_S = 30.0  # generous: the machine is shared; the figure is in the benchmark
SLOW_POLL = "600"  # polling this rarely cannot explain a swap: only a notification can


@pytest.fixture
def two_versions(database: DatabaseUrl, _trained_template: Path, tmp_path: Path) -> DatabaseUrl:
    """v1 and v2 trained into the database (v2 current), from a trainer's own home."""
    home = tmp_path / "trainer"
    shutil.copytree(_trained_template / "data", home / "data")
    for seed in (42, 7):
        settings = load_settings(
            home=home, rows=4_000, n_estimators=60, seed=seed, database_url=database.value
        )
        workflow.train_step(settings, force=True)
    return database


@pytest.fixture
def replicas(two_versions: DatabaseUrl, tmp_path: Path) -> Iterator[list[Server]]:
    with ExitStack() as stack:
        servers = []
        for name in ("a", "b"):
            port = free_port()
            servers.append(
                stack.enter_context(
                    running(
                        uvicorn_command("churnops.api:app", port),
                        tmp_path / f"replica-{name}",  # empty: artifacts come from the database
                        port,
                        CHURNOPS_DATABASE_URL=two_versions.value,
                        CHURNOPS_POLL_INTERVAL=SLOW_POLL,
                    )
                )
            )
        yield servers


def _info(server: Server) -> dict[str, object]:
    answer: dict[str, object] = httpx.get(f"{server.url}/model-info", timeout=5).json()
    return answer


def _wait_for(servers: list[Server], version: int) -> None:
    deadline = time.monotonic() + SWITCH_DEADLINE_S
    while any(_info(s).get("version") != version for s in servers):
        assert time.monotonic() < deadline, [_info(s) for s in servers]
        time.sleep(0.05)


def test_replicas_switch_together_on_notification(
    replicas: list[Server], two_versions: DatabaseUrl
) -> None:
    _wait_for(replicas, 2)
    for server in replicas:
        assert _info(server)["registry_updates"] == "notify"
        answer = httpx.post(f"{server.url}/predict", json=SEED_BODY, timeout=10)
        assert answer.status_code == 200 and answer.json()["model_version"] == 2
    env = {"CHURNOPS_DATABASE_URL": two_versions.value}
    for command, version in ((("rollback",), 1), (("promote", "v2"), 2)):
        done = subprocess.run(
            churnops_command(*command, "--reason", "replicas test"),
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        _wait_for(replicas, version)
        assert all(_info(s)["last_swap_by"] == "notify" for s in replicas)
