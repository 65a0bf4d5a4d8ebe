"""End to end through the real API: serve (uvicorn) → simulate → drift → /metrics gauges."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from cli_support import output_at_width
from drift_support import run_cli
from log_backends import LogBackend, use_database

from churnops.database.url import DatabaseUrl
from churnops.settings import Settings

STARTUP_TIMEOUT_S = 60.0
LOG_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def api(trained_home: Path) -> Iterator[str]:
    """A real uvicorn process serving the trained home's current model on a loopback port."""
    yield from _serve(trained_home)


@pytest.fixture
def logging_api(
    trained_home: Path, log_backend: LogBackend, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, LogBackend]]:
    """``api`` logging to the SQLite file or to PostgreSQL (CHURNOPS_DATABASE_URL, set for the
    commands the test runs as well); the log's backend."""
    use_database(trained_home, log_backend.location, monkeypatch)
    if not isinstance(log_backend.location, DatabaseUrl):
        log_backend = LogBackend("sqlite", trained_home / "logs" / "inference.sqlite")
    for url in _serve(trained_home):
        yield url, log_backend


def _serve(home: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "CHURNOPS_HOME": str(home),
        "CHURNOPS_LOG_FLUSH_INTERVAL": "0.2",
    }
    command = [sys.executable, "-m", "uvicorn", "churnops.api:app", "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the API did not start: {server.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for_log_rows(log: Path | LogBackend, rows: int) -> None:
    """The API writes its log in the background: wait until ``rows`` rows are stored."""
    backend = log if isinstance(log, LogBackend) else LogBackend("sqlite", log)
    deadline = time.monotonic() + LOG_TIMEOUT_S
    count = 0
    while time.monotonic() < deadline:
        count = backend.count("inference_log")
        if count >= rows:
            return
        time.sleep(0.2)
    raise AssertionError(f"the inference log holds {count} rows, expected {rows}")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


@pytest.mark.slow
def test_pipeline_serve_simulate_drift(
    logging_api: tuple[str, LogBackend],
    trained_settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Traffic like the training data is 'no drift' (exit 0); after a 10% price increase,
    drift over the whole log (no window option) and over the last 1,000 rows exits 1 naming
    monthly_charges, the HTML report shows it, and /metrics exposes it — with the log in
    SQLite or in PostgreSQL."""
    api, log = logging_api
    home = str(trained_settings.home)
    calm_traffic = ("--rows", "3000", "--batch-size", "20", "--json")
    sent = run_cli(capsys, "simulate", "--url", api, *calm_traffic)
    assert sent.code == 0, sent.err
    wait_for_log_rows(log, 3_000)
    calm = run_cli(capsys, "drift", "--home", home)
    assert calm.code == 0, calm.out + calm.err
    assert "no drift" in calm.out

    shifted = run_cli(
        capsys, "simulate", "--url", api, "--rows", "1000", "--shift", "price-increase", "--json"
    )
    assert shifted.code == 0, shifted.err
    wait_for_log_rows(log, 4_000)
    whole = run_cli(capsys, "drift", "--home", home, "--json")  # 25% of the log shifted
    assert whole.code == 1, whole.out + whole.err
    report = json.loads(whole.out)
    assert report["features"]["monthly_charges"]["status"] == "drift"
    assert report["drift_began"] is not None and report["groups"][0]["recent_drift"] is True

    html = tmp_path / "drift.html"
    alarm = run_cli(capsys, "drift", "--home", home, "--last", "1000", "--html-out", str(html))
    assert alarm.code == 1, alarm.out + alarm.err
    assert "DRIFT DETECTED" in alarm.out
    assert "monthly_charges" in alarm.out.split("drifting:")[1]

    page = html.read_text(encoding="utf-8")
    tags = _Tags()
    tags.feed(page)
    assert tags.tags.count("svg") >= 6 and "script" not in tags.tags
    assert "Drift report" in page and "monthly_charges" in page

    metrics = httpx.get(f"{api}/metrics", timeout=10).text
    assert "churnops_drift_detected 1.0" in metrics
    assert 'churnops_feature_drift_status{feature="monthly_charges"} 2.0' in metrics


@pytest.mark.slow
def test_unseen_payment_methods_are_refused_by_the_api(
    api: str, trained_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The API refuses rows with a payment method outside the schema (422), so the simulator
    reports them as refused and they never reach the inference log."""
    result = run_cli(
        capsys,
        "simulate",
        "--url",
        api,
        "--rows",
        "400",
        "--shift",
        "new-payment-method",
        "--batch-size",
        "50",
        "--json",
    )
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    refused = summary["statuses"].get("422", 0)
    assert 0 < refused < 60 and summary["accepted"] + refused == 400
    wait_for_log_rows(trained_settings.inference_db, summary["accepted"])
    with sqlite3.connect(trained_settings.inference_db) as conn:
        methods = {
            row[0] for row in conn.execute("SELECT DISTINCT payment_method FROM inference_log")
        }
    assert "Digital wallet" not in methods


@pytest.mark.slow
def test_the_hint_for_refused_rows_never_breaks_its_commands(
    api: str, trained_settings: Settings
) -> None:
    """At 80 columns, the hint after refused rows names each command on one line (rich broke
    them: it was not printed with soft_wrap), and the first refusal's body is one line below
    the table, which fits in 80 columns (in its cell the body wrapped over several lines)."""
    args = ("--url", api, "--rows", "200", "--shift", "new-payment-method", "--batch-size", "50")
    shown = output_at_width(80, "simulate", "--home", trained_settings.home, *args)
    assert "row(s) refused" in shown, shown
    table = [line for line in shown.splitlines() if line.startswith(("┌", "│", "└"))]
    assert max(map(len, table)) <= 80 and not any(line.startswith("│  ") for line in table)
    refusal = [line for line in shown.splitlines() if line.startswith("first refusal: 422: ")]
    assert len(refusal) == 1 and "payment_method" in refusal[0], shown
    assert "`churnops simulate --shift new-payment-method --out rows.csv`" in shown, shown
    assert "`churnops drift --current rows.csv`" in shown, shown
