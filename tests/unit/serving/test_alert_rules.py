"""The shipped Prometheus alert rules only use metrics the API really exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from performance_support import performance_report

from churnops.atomic import atomic_write_json
from churnops.performance.results import LATEST
from churnops.schema import SEED_EXAMPLE
from churnops.serving.app import create_app
from churnops.settings import Settings

RULES = Path(__file__).parents[3] / "deploy" / "prometheus" / "alerts.yml"
SEED_BODY = dict(SEED_EXAMPLE)
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")
DRIFT_EXAMPLE = Path(__file__).parents[2] / "integration" / "drift_examples"
REPORT = {
    **json.loads((DRIFT_EXAMPLE / "file_price_increase.json").read_text(encoding="utf-8")),
    "generated_at": "2025-06-01T12:00:00Z",
}


def exposed_families(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = re.split(r"[{ ]", line, maxsplit=1)[0]
            names.add(name)
            names.update(name.removesuffix(suffix) for suffix in SUFFIXES)
    return names


def test_every_alert_rule_queries_an_exposed_metric(settings: Settings) -> None:
    """Each metric name in deploy/prometheus/alerts.yml appears in /metrics (with a drift and
    a performance report present), so a renamed metric cannot silently disable an alert."""
    atomic_write_json(settings.reports_dir / "drift_latest.json", REPORT)
    atomic_write_json(settings.reports_dir / LATEST, performance_report().to_json())
    with TestClient(create_app(settings)) as client:
        assert client.post("/predict", json=SEED_BODY).status_code == 200
        exposed = exposed_families(client.get("/metrics").text)
    rules = yaml.safe_load(RULES.read_text("utf-8"))["groups"][0]["rules"]
    queried = {name for rule in rules for name in re.findall(r"churnops_[a-z_]+", rule["expr"])}
    assert queried, "no rule queries a churnops metric"
    assert sorted(queried - exposed) == []


def test_the_server_error_alert_ignores_clients_that_went_away() -> None:
    """The 5xx rule's status matcher takes 500-599 and not 499, the status a client that
    aborted its upload is counted under."""
    rules = yaml.safe_load(RULES.read_text("utf-8"))["groups"][0]["rules"]
    expr = next(rule["expr"] for rule in rules if rule["alert"] == "ChurnApiServerErrors")
    matcher = re.search(r'status=~"([^"]+)"', expr)
    assert matcher is not None
    statuses = {str(code) for code in range(100, 600)}
    assert {s for s in statuses if re.fullmatch(matcher.group(1), s)} == {
        str(code) for code in range(500, 600)
    }
