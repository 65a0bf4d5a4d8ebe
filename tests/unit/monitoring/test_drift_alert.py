"""Alerting: the JSON summary reaches a real local webhook only when drift is detected."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from drift_helpers import customers

from churnops.errors import BadInputError
from churnops.monitoring.alert import post_alert
from churnops.monitoring.run import DriftOptions, run_drift
from churnops.monitoring.shifts import apply_shift
from churnops.settings import load_settings


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Receiver.received.append(json.loads(self.rfile.read(length)))
        self.send_response(Receiver.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        return


@pytest.fixture
def webhook() -> Iterator[str]:
    Receiver.received = []
    Receiver.status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def files(tmp_path: Path, shift: str | None) -> DriftOptions:
    reference, current = tmp_path / "reference.csv", tmp_path / "current.csv"
    customers(3_000, 1).to_csv(reference, index=False)
    apply_shift(customers(1_000, 2), shift, np.random.default_rng(0)).to_csv(current, index=False)
    return DriftOptions(current=current, reference=reference)


def test_drift_posts_a_summary(tmp_path: Path, webhook: str) -> None:
    """It POSTs the verdict, score, when drift began, the drifting features and the report path
    when drift is found."""
    options = files(tmp_path, "contract-shift")
    run = run_drift(load_settings(home=tmp_path), replace(options, alert_webhook=webhook))
    assert run.alert is not None and run.alert.sent and run.alert.status_code == 200
    [payload] = Receiver.received
    assert payload["drift_detected"] is True
    assert payload["drifting_features"] == ["contract_type"]
    assert payload["drift_began"] == run.report.drift_began == "row 1"
    assert payload["report"] == str(run.json_path)
    assert "contract_type" in payload["text"]


def test_no_drift_posts_nothing(tmp_path: Path, webhook: str) -> None:
    """It stays silent when there is no drift."""
    options = files(tmp_path, None)
    run = run_drift(load_settings(home=tmp_path), replace(options, alert_webhook=webhook))
    assert run.alert is None and Receiver.received == []


def test_an_unreachable_or_failing_webhook_is_reported(webhook: str) -> None:
    """It reports (does not raise) a refused connection or a non-2xx answer."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    down = post_alert(f"http://127.0.0.1:{closed_port}/", {"x": 1}, timeout=2)
    assert not down.sent and down.status_code is None and "Connect" in (down.error or "")
    Receiver.status = 500
    failing = post_alert(webhook, {"x": 1})
    assert not failing.sent and failing.status_code == 500


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/hook", "127.0.0.1:9000/hook", "http://", "hook", "http://[::1"]
)
def test_a_bad_webhook_url_is_refused_before_judging(tmp_path: Path, url: str) -> None:
    """It refuses a webhook URL that is not http(s) with a host up front, even when there is
    no drift to alert about."""
    options = files(tmp_path, None)
    with pytest.raises(BadInputError, match="--alert-webhook"):
        run_drift(load_settings(home=tmp_path), replace(options, alert_webhook=url))
    assert not (tmp_path / "reports").exists()
