"""The Grafana dashboard and its provisioning, checked offline (Grafana cannot run here): valid
layout, the provisioned datasource, and only metrics and labels that /metrics really exposes."""

from __future__ import annotations

import json
import re
import shutil
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from performance_support import performance_report
from prometheus_client.parser import text_string_to_metric_families

from churnops.atomic import atomic_write_json
from churnops.performance.results import LATEST
from churnops.schema import SEED_EXAMPLE
from churnops.serving.app import create_app
from churnops.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards" / "churnops.json").read_text("utf-8"))
PANELS = [panel for panel in DASHBOARD["panels"] if panel["type"] != "row"]
# a real drift report (the one the drift tests pin), as the API reads it for its gauges
DRIFT_EXAMPLE = ROOT / "tests" / "integration" / "drift_examples" / "file_price_increase.json"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text("utf-8"))


@pytest.fixture(scope="module")
def exposed(
    _trained_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, set[str]]:
    """Every sample name /metrics exposes (after a prediction, with a drift and a performance
    report present) and the label names it carries."""
    home = tmp_path_factory.mktemp("metrics") / "home"
    shutil.copytree(_trained_template, home)
    settings = Settings(home=home)
    report = {
        **json.loads(DRIFT_EXAMPLE.read_text("utf-8")),
        "generated_at": "2025-06-01T12:00:00Z",
    }
    atomic_write_json(settings.reports_dir / "drift_latest.json", report)
    atomic_write_json(settings.reports_dir / LATEST, performance_report().to_json())
    with TestClient(create_app(settings)) as client:
        assert client.post("/predict", json=dict(SEED_EXAMPLE)).status_code == 200
        text = client.get("/metrics").text
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


def queries() -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in PANELS for target in panel["targets"]]


def test_dashboard_layout_is_valid() -> None:
    """A dashboard Grafana can load: uid, title, schema version, unique panel ids, panels on
    the 24-column grid and not overlapping."""
    assert DASHBOARD["uid"] and DASHBOARD["title"] and DASHBOARD["schemaVersion"] >= 36
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    boxes = [panel["gridPos"] for panel in DASHBOARD["panels"]]
    for box in boxes:
        assert box["x"] >= 0 and box["w"] > 0 and box["x"] + box["w"] <= 24 and box["h"] > 0
    for a, b in combinations(boxes, 2):
        apart = (
            a["x"] + a["w"] <= b["x"]
            or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"]
            or b["y"] + b["h"] <= a["y"]
        )
        assert apart, f"panels overlap: {a} {b}"


def test_every_panel_uses_the_provisioned_datasource() -> None:
    """Panels and their queries name the datasource by the uid the provisioning file gives it
    (not by a name or an id that differs between Grafana installs)."""
    (source,) = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")[
        "datasources"
    ]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    for panel in PANELS:
        assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}
        assert panel["targets"], panel["title"]
        assert all(target["datasource"] == panel["datasource"] for target in panel["targets"])


def test_compose_mounts_what_the_provisioning_reads() -> None:
    """Grafana in compose.yaml mounts the provisioning folder where Grafana reads it and the
    dashboards where the provider looks for them."""
    (provider,) = load_yaml(GRAFANA / "provisioning" / "dashboards" / "churnops.yml")["providers"]
    mounts = load_yaml(ROOT / "compose.yaml")["services"]["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in mounts


@pytest.mark.parametrize(("title", "expr"), queries())
def test_every_query_uses_exposed_metrics_and_labels(
    title: str, expr: str, exposed: dict[str, set[str]]
) -> None:
    """Each metric a panel queries is one /metrics exposes, and each label it filters or
    groups by is one that metric carries: a renamed metric or label cannot blank a panel."""
    metrics = set(re.findall(r"churnops_[a-z_]+", expr))
    assert metrics, f"{title}: queries no churnops metric"
    assert sorted(metrics - set(exposed)) == [], title
    carried = set().union(*(exposed[name] for name in metrics))
    selectors = " ".join(re.findall(r"\{([^}]*)\}", expr))
    groupings = " ".join(re.findall(r"by \(([^)]*)\)", expr))
    selected = set(re.findall(r"(\w+)\s*[=!]~?", selectors)) | set(re.findall(r"\w+", groupings))
    assert sorted(selected - carried) == [], title
