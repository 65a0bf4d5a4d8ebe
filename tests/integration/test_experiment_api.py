"""Experiments through the real API: a uvicorn server follows `churnops experiment start/stop`,
`churnops simulate` sends customers to it, their true outcomes are imported, and the report
judges the arms on what the API logged."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from api_support import (
    SEED_BODY,
    Server,
    api_settings,
    churnops_command,
    free_port,
    in_background,
    logged_rows,
    run_load,
    running,
)
from cli_support import RunCli, half_width, report_after_import

from churnops import workflow
from churnops.experiments.assignment import Assigner
from churnops.monitoring.simulate import send_traffic
from churnops.registry.experiments import start_experiment, stop_experiment
from churnops.registry.promotion import switch
from churnops.registry.store import Registry
from churnops.settings import Settings

CUSTOMERS = 20_000
SEED = 11
SMALL_SAMPLE = 80  # rows v1 learns from: a clearly weaker model than v2's 4,000


@pytest.fixture(scope="module")
def _weak_and_strong(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 trained on a small sample (current: the champion), v2 on the full data (waiting)."""
    home = tmp_path_factory.mktemp("experiment-api") / "home"
    settings = api_settings(home, rows=4_000, n_estimators=40)
    workflow.generate_step(settings)
    workflow.prepare_step(settings)
    small = settings.data_dir / "small_sample.csv"
    full = pd.read_csv(settings.processed_csv)
    full.sample(n=SMALL_SAMPLE, random_state=1).to_csv(small, index=False)
    workflow.train_step(settings, data=small)
    workflow.train_step(settings, force=True)
    if Registry(settings).read().current_version != 1:
        switch(settings, "rollback", 1, "test setup: the weak v1 is the champion")
    return home


@pytest.fixture
def settings(_weak_and_strong: Path, tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    shutil.copytree(_weak_and_strong, home)
    return api_settings(home, rows=4_000, n_estimators=40)


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    port = free_port()
    command = churnops_command("serve", "--home", str(settings.home), "--port", str(port))
    with running(command, settings.home, port, CHURNOPS_LOG_FLUSH_INTERVAL="0.05") as started:
        yield started
        assert started.stop()


def wait_for(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


def model_info(server: Server) -> dict[str, Any]:
    info: dict[str, Any] = httpx.get(f"{server.url}/model-info").json()
    return info


def following(server: Server, experiment: str | None, version: int) -> None:
    """Wait until the server serves ``version`` with ``experiment`` (an id, or None)."""

    def check() -> bool:
        info = model_info(server)
        running = info["experiment"]["id"] if info["experiment"] else None
        return bool(info["version"] == version and running == experiment)

    wait_for(check, f"the API serves v{version} with experiment {experiment}")


def simulate(
    run_cli: RunCli, settings: Settings, server: Server, outcomes: Path, *extra: str
) -> int:
    """``churnops simulate`` of the same ``CUSTOMERS`` customers, with their true outcomes;
    waits until the log holds every answer, returns how many were answered."""
    before = logged_rows(settings)
    sent = run_cli(
        "simulate",
        "--url",
        server.url,
        "--rows",
        CUSTOMERS,
        "--seed",
        SEED,
        "--outcomes",
        outcomes,
        "--home",
        settings.home,
        "--json",
        *extra,
    )
    assert sent.code == 0, sent.err
    accepted = int(sent.json()["accepted"])
    assert accepted == CUSTOMERS
    wait_for(lambda: logged_rows(settings) == before + accepted, "every answer is logged")
    return accepted


def shown(difference: dict[str, float]) -> str:
    return (
        f"{difference['difference']:+.4f} [{difference['lower']:+.4f}, {difference['upper']:+.4f}]"
        f" (half-width {half_width(difference):.4f})"
    )


@pytest.mark.slow
def test_ab_then_promote_then_shadow_through_the_api(
    settings: Settings, server: Server, run_cli: RunCli, tmp_path: Path
) -> None:
    """A/B at 50 % on 20,000 simulated customers (one /predict each): the report finds the
    challenger (v2, full data) better than the champion (v1, small sample); `stop --promote`
    makes v2 current with the verdict in the history. Shadow mode on the same customers (v1
    challenging v2, /predict/batch): a paired difference whose interval is narrower than the
    unpaired one on the same rows. The log holds exactly one row per answered prediction."""
    home = settings.home
    start = ("experiment", "start", "--home", home, "--json")
    ab = run_cli(*start, "--challenger", "v2", "--mode", "ab", "--share", "50").json()
    following(server, ab["id"], 1)
    answered = simulate(run_cli, settings, server, tmp_path / "ab.csv")
    report = report_after_import(run_cli, home, tmp_path / "ab.csv")
    assert report["verdict"]["label"] == "challenger better"
    unpaired = report["difference"]
    assert unpaired["paired"] is False and unpaired["difference"] > 0  # v2 − v1
    arms = {arm["variant"]: arm for arm in report["arms"]}
    assert (arms["champion"]["model_version"], arms["challenger"]["model_version"]) == (1, 2)
    assert abs(arms["challenger"]["predictions"] - CUSTOMERS / 2) < 0.02 * CUSTOMERS
    assert arms["champion"]["predictions"] + arms["challenger"]["predictions"] == CUSTOMERS

    promoted = run_cli("experiment", "stop", "--promote", "--home", home, "--json")
    assert promoted.code == 0, promoted.err
    assert promoted.json()["promoted"] == 2
    registry = Registry(settings)
    assert registry.read().current_version == 2 and registry.read().experiment is None
    history = registry.history()[-1]
    assert history.action == "promote" and "challenger better" in history.reason
    following(server, None, 2)

    shadow = run_cli(*start, "--challenger", "v1", "--mode", "shadow").json()
    following(server, shadow["id"], 2)
    answered += simulate(run_cli, settings, server, tmp_path / "shadow.csv", "--batch-size", "50")
    report = report_after_import(run_cli, home, tmp_path / "shadow.csv")
    paired, same_rows = report["difference"], report["unpaired"]
    assert paired["paired"] is True and same_rows["paired"] is False
    assert paired["difference"] < 0  # the challenger (v1) is the weaker model
    assert report["verdict"]["label"] == "challenger worse"
    assert all(arm["predictions"] == CUSTOMERS for arm in report["arms"])
    assert half_width(paired) < half_width(same_rows)
    print(f"\nA/B (unpaired, {CUSTOMERS:,} customers split 50/50): v2 − v1 = {shown(unpaired)}")
    print(f"shadow (paired, the same {CUSTOMERS:,} customers): v1 − v2 = {shown(paired)}")
    print(f"shadow rows compared unpaired:                       v1 − v2 = {shown(same_rows)}")
    assert logged_rows(settings) == answered


@pytest.mark.slow
def test_the_same_customer_gets_the_same_variant_across_restarts_and_workers(
    settings: Settings, tmp_path: Path
) -> None:
    """A/B at 30 %: each customer's variant is the one its bucket gives, from one worker and
    after a restart with two workers (no per-process state)."""
    experiment = start_experiment(settings, 2, "ab", 30)
    assigner = Assigner(experiment.id, 30)
    customers = [f"K{i:05d}" for i in range(60)]

    def variants(*workers: str) -> tuple[dict[str, str], set[str]]:
        port = free_port()
        command = churnops_command(
            "serve", "--home", str(settings.home), "--port", str(port), *workers
        )
        seen, processes = {}, set()
        with running(command, settings.home, port) as server:
            for customer in customers:  # a new connection each: any worker may answer
                response = httpx.post(f"{server.url}/predict", json=body(customer))
                answer = response.json()
                seen[customer] = answer["variant"]
                processes.add(answer["request_id"].split("-")[0])
            batches = send_traffic(server.url, [body(c) for c in customers], batch_size=20)
            assert server.stop()
        assert batches.served_by == Counter(versions)  # counted by the version of each row
        return seen, processes

    def body(customer: str) -> dict[str, Any]:
        return {**SEED_BODY, "customer_id": customer}

    expected = {c: assigner.assign(c).variant for c in customers}
    versions = [2 if variant == "challenger" else 1 for variant in expected.values()]
    first, _ = variants()
    second, workers = variants("--workers", "2")
    assert first == second == expected
    assert set(first.values()) == {"champion", "challenger"}
    assert len(workers) == 2


@pytest.mark.slow
def test_starting_and_stopping_experiments_under_load_fails_no_request(
    settings: Settings, server: Server
) -> None:
    """Eight clients post without a customer id while an A/B and then a shadow experiment
    start and stop: no request fails, both variants answer during the A/B experiment (drawn
    at random, and marked so), and the log holds one row per answer."""
    done = threading.Event()
    body = {**SEED_BODY, "customer_id": None}
    load = in_background(lambda: run_load(server.url, done.is_set, body=body))
    seen: list[dict[str, Any]] = []

    def watch(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            seen.append(httpx.post(f"{server.url}/predict", json=body).json())
            time.sleep(0.02)

    time.sleep(1.0)
    ab = start_experiment(settings, 2, "ab", 50)
    watch(2.5)
    stop_experiment(settings, promote=False, verdict="test: stopped under load")
    time.sleep(1.0)
    start_experiment(settings, 2, "shadow")
    watch(2.5)
    stop_experiment(settings, promote=False, verdict="test: stopped under load")
    time.sleep(1.0)
    done.set()
    result = load()
    assert result.failures == []
    assert result.ok > 200
    during_ab = [answer for answer in seen if answer.get("experiment_id") == ab.id]
    assert {answer["variant"] for answer in during_ab} == {"champion", "challenger"}
    assert all(answer["variant_random"] for answer in during_ab)
    assert server.stop()
    assert logged_rows(settings) == result.ok + len(seen)
