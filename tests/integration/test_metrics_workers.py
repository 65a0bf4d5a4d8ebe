"""`churnops serve --workers 2`: one scrape of /metrics shows the whole server (real processes)."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from api_support import SEED_BODY, churnops_command, free_port, running
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from churnops.serving.app import create_app
from churnops.settings import load_settings

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
ONE_PROCESS_ONLY = ("process_", "python_gc_")  # see churnops.serving.metrics
BATCH_ROWS = 5
LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def parsed(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(url: str) -> Samples:
    """One scrape on a new connection (so successive scrapes reach either worker)."""
    return parsed(httpx.get(f"{url}/metrics", timeout=30).text)


def total(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for (n, got), value in samples.items() if n == name and wanted <= set(got))


def counted(url: str) -> tuple[float, float]:
    """(/predict requests, rows predicted), as one scrape shows them. A worker counts a request
    just after it has sent the answer, so a scrape sent at once to the other worker may miss
    the last one: wait for the counts before asserting that every scrape shows them."""
    samples = scrape(url)
    requests = total(samples, "churnops_http_requests_total", endpoint="/predict")
    return requests, total(samples, "churnops_predictions_total")


def wait_for(check: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def predict_on_both_workers(url: str, at_least: int) -> int:
    """``/predict`` on a new connection each time until both workers answered and at least
    ``at_least`` were sent; every answer is a 200. Returns how many were sent."""
    workers: set[str] = set()  # request ids are <process prefix>-<counter>
    sent, deadline = 0, time.monotonic() + 60
    while sent < at_least or len(workers) < 2:
        assert time.monotonic() < deadline, f"only {workers} answered {sent} requests"
        answer = httpx.post(f"{url}/predict", json=SEED_BODY, timeout=30)
        assert answer.status_code == 200, answer.text
        workers.add(answer.json()["request_id"].split("-")[0])
        sent += 1
    return sent


def two_workers(home: Path) -> tuple[list[str], int]:
    port = free_port()
    return churnops_command(
        "serve", "--home", str(home), "--port", str(port), "--workers", "2"
    ), port


def worker_pids(metrics_dir: Path) -> set[int]:
    return {
        int(match.group(1))
        for path in metrics_dir.iterdir()
        if (match := LIVE_GAUGE_FILE.fullmatch(path.name))
    }


def names(samples: Samples) -> set[str]:
    return {n for n, _ in samples if not n.startswith(ONE_PROCESS_ONLY) and "_created" not in n}


@pytest.mark.slow
def test_one_scrape_adds_up_every_worker_and_a_new_run_starts_from_zero(
    trained_home: Path, tmp_path: Path
) -> None:
    """K predictions spread over two workers (new connections), then several scrapes: each
    shows K /predict requests and K + batch rows predicted, whichever worker answers; the
    probability histogram catches up within the publish interval; gauges are combined (no
    per-worker series) and the names are those of one process. Run again on the same
    CHURNOPS_METRICS_DIR: the counts start from zero."""
    metrics_dir = tmp_path / "metrics"
    env = {"CHURNOPS_METRICS_DIR": str(metrics_dir)}
    command, port = two_workers(trained_home)
    with running(command, trained_home, port, **env) as server:
        sent = predict_on_both_workers(server.url, at_least=20)
        batch = httpx.post(f"{server.url}/predict/batch", json=[SEED_BODY] * BATCH_ROWS)
        assert batch.status_code == 200
        assert wait_for(lambda: counted(server.url) == (sent, sent + BATCH_ROWS))
        for _ in range(6):
            samples = scrape(server.url)
            assert total(samples, "churnops_http_requests_total", endpoint="/predict") == sent
            assert total(samples, "churnops_predictions_total") == sent + BATCH_ROWS
        assert wait_for(
            lambda: (
                total(scrape(server.url), "churnops_prediction_probability_count")
                == sent + BATCH_ROWS
            )
        )
        samples = scrape(server.url)
        assert not [key for key in samples if "pid" in dict(key[1])]
        assert samples[("churnops_model_ready", ())] == 1
        assert samples[("churnops_model_version", ())] == 1
        assert samples[("churnops_inference_log_writer_running", ())] == 1
        assert len(worker_pids(metrics_dir)) == 2
        assert server.stop()
    assert list(metrics_dir.glob("counter_*.db"))  # the first run's counts stay until a new run
    with TestClient(create_app(load_settings(home=trained_home))) as client:
        assert client.post("/predict", json=SEED_BODY).status_code == 200
        assert client.post("/predict/batch", json=[SEED_BODY] * 2).status_code == 200
        in_memory = names(parsed(client.get("/metrics").text))
    assert names(samples) == in_memory

    command, port = two_workers(trained_home)
    with running(command, trained_home, port, **env) as server:
        samples = scrape(server.url)
        assert total(samples, "churnops_http_requests_total", endpoint="/predict") == 0
        assert total(samples, "churnops_predictions_total") == 0
        assert server.stop()


@pytest.mark.slow
def test_a_killed_worker_counts_stay_and_its_gauges_go(trained_home: Path, tmp_path: Path) -> None:
    """SIGKILL one worker (no shutdown runs): uvicorn starts another; the requests the killed
    one answered still count, and its gauges leave the scrape (the connection cap is summed
    over the live workers: twice one worker's, not three times)."""
    metrics_dir = tmp_path / "metrics"
    command, port = two_workers(trained_home)
    with running(command, trained_home, port, CHURNOPS_METRICS_DIR=str(metrics_dir)) as server:
        sent = predict_on_both_workers(server.url, at_least=10)
        assert wait_for(lambda: counted(server.url) == (sent, sent))
        assert wait_for(lambda: len(worker_pids(metrics_dir)) == 2)
        cap = scrape(server.url)[("churnops_http_connections_max", ())]
        killed = min(worker_pids(metrics_dir))
        os.kill(killed, signal.SIGKILL)
        assert wait_for(lambda: len(worker_pids(metrics_dir) - {killed}) == 2)  # the new one
        for _ in range(4):
            samples = scrape(server.url)
            assert total(samples, "churnops_http_requests_total", endpoint="/predict") == sent
            assert samples[("churnops_http_connections_max", ())] == cap
        assert killed not in worker_pids(metrics_dir)
        assert server.stop()
