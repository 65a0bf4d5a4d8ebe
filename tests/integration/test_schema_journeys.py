"""A user's own table end to end through the real API, once per table (telecom export, bank
table, minimal table): the home was made by ``init --from`` → ``prepare`` → ``train`` (see
``tests/schema_homes.py``); here ``churnops serve`` answers a full row with v1's probability,
``simulate`` sends like customers and ``drift`` finds none, shifted customers make it find the
moved feature, and a rollback from v2 brings v1 back to the running server.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pandas as pd
from api_support import churnops_command, free_port, logged_rows, running
from cli_support import RunCli
from schema_homes import MOVED, SchemaHome, customers, scored, shifted

from churnops import workflow
from churnops.monitoring.simulate import payloads
from churnops.registry.store import Registry

ROWS = 1_200  # customers per traffic wave: enough for drift's verdict on every feature


def wait_for(check: object, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def drift_of(run_cli: RunCli, home: Path, last: int) -> tuple[int, dict[str, dict[str, str]]]:
    result = run_cli("drift", "--home", home, "--last", last, "--json")
    assert result.code in (0, 1), result.out + result.err
    return result.code, json.loads(result.out)["features"]


def send(url: str, frame: pd.DataFrame, project: SchemaHome) -> None:
    bodies = payloads(frame, project.schema)
    for start in range(0, len(bodies), 100):
        answer = httpx.post(f"{url}/predict/batch", json=bodies[start : start + 100], timeout=30)
        assert answer.status_code == 200, answer.text[:300]


def served_version(url: str) -> int:
    return int(httpx.get(f"{url}/model-info", timeout=5).json()["version"])


def test_a_user_table_served_monitored_and_rolled_back(
    schema_home: SchemaHome, run_cli: RunCli
) -> None:
    project, port = schema_home, free_port()
    settings = project.settings
    command = churnops_command("serve", "--port", str(port), "--host", "127.0.0.1")
    with running(command, project.home, port) as server:
        row = customers(project, 1, seed=5)
        body = payloads(row, project.schema)[0]
        assert set(project.schema.feature_names) <= set(body)
        answer = httpx.post(f"{server.url}/predict", json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        expected = scored(settings, row, 1)["probability"].iloc[0]
        assert answer.json()["model_version"] == 1
        assert abs(answer.json()["churn_probability"] - expected) <= 1e-5

        simulated = run_cli(
            "simulate", "--home", project.home, "--url", server.url, "--rows", ROWS,
            "--batch-size", 50, "--json",
        )  # fmt: skip
        assert simulated.code == 0, simulated.out + simulated.err
        assert json.loads(simulated.out)["accepted"] == ROWS
        wait_for(lambda: logged_rows(settings) == ROWS + 1, "the simulated rows in the log")
        code, features = drift_of(run_cli, project.home, ROWS)
        assert code == 0, features

        moved = shifted(customers(project, ROWS, seed=31), project.shape, project.schema, 32)
        send(server.url, moved, project)
        wait_for(lambda: logged_rows(settings) == 2 * ROWS + 1, "the shifted rows in the log")
        code, features = drift_of(run_cli, project.home, ROWS)
        assert code == 1
        assert features[MOVED[project.shape]]["status"] == "drift"

        workflow.train_step(settings.model_copy(update={"seed": 2}), force=True)
        state = Registry(settings).read()
        assert len(state.versions) == 2
        if state.current_version != 2:  # the gate may keep v1: promote v2 by hand
            assert run_cli("promote", "v2", "--force", "--home", project.home).code == 0
        wait_for(lambda: served_version(server.url) == 2, "v2 serving")
        assert run_cli("rollback", "--home", project.home).code == 0
        wait_for(lambda: served_version(server.url) == 1, "v1 serving again after the rollback")
        again = httpx.post(f"{server.url}/predict", json=body, timeout=10).json()
        assert abs(again["churn_probability"] - expected) <= 1e-5
        assert server.stop()
