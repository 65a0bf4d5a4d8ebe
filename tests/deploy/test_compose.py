"""compose.yaml and the Prometheus files: valid, wired to files that exist, and the part of
the stack that can run here (API + Prometheus) run for real with podman-compose."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from container_support import (
    LIMITS,
    PODMAN,
    ROOT,
    Images,
    podman,
    require_system_tools,
    wait_until,
)
from integration.api_support import free_port

import churnops

COMPOSE = ROOT / "compose.yaml"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
BASE_IMAGE = "localhost/churnops-base:bookworm-py3.11"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text("utf-8"))
    return loaded


def default_of(value: str) -> str:
    """``${NAME:-default}`` → ``default`` (a plain value is its own default)."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    return match.group(1) if match else value


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    pairs = [volume.split(":")[:2] for volume in service.get("volumes", [])]
    return [(ROOT / source, target) for source, target in pairs if source.startswith("./")]


def test_compose_file_follows_the_compose_specification() -> None:
    """The Compose specification's JSON schema (vendored by check-jsonschema) accepts it."""
    checker = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    result = subprocess.run([*checker, str(COMPOSE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_is_wired_to_the_build_and_to_files_that_exist() -> None:
    """Images are the ones `make image` tags, built with the right extras; every file mounted
    exists; the API's port is the one the image exposes; jobs share the API's home volume."""
    services = compose()["services"]
    version = churnops.__version__
    api, jobs = services["api"], services["drift"]
    assert default_of(api["image"]) == f"churnops:{version}"
    assert api["build"]["args"]["EXTRAS"] == "serve"
    for name in ("train", "drift"):
        assert default_of(services[name]["image"]) == f"churnops-full:{version}"
        assert services[name]["build"]["args"]["EXTRAS"] == "all"
        assert services[name]["volumes"] == api["volumes"] == ["churnops-home:/data"]
    assert "IMAGE := churnops\n" in (ROOT / "Makefile").read_text("utf-8")
    assert "EXPOSE 8000" in (ROOT / "Dockerfile").read_text("utf-8")
    assert [port.rsplit(":", 1)[1] for port in api["ports"]] == ["8000"]
    assert "churnops drift" in jobs["command"][0]
    for service in services.values():
        for source, _ in bind_mounts(service):
            assert source.exists(), f"{source} is mounted but does not exist"


def test_prometheus_files_pass_promtool(tmp_path: Path) -> None:
    """`promtool check` accepts the stand-alone config with its rules, and the compose config
    laid out as compose mounts it (so its rule file is the shipped alerts.yml)."""
    require_system_tools("promtool")
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text("utf-8"))["groups"][0]
    etc = tmp_path / "etc"
    etc.mkdir()
    for source, target in bind_mounts(compose()["services"]["prometheus"]):
        shutil.copy(source, etc / Path(target).name)
    for config in (PROMETHEUS_DIR / "prometheus.yml", etc / "prometheus.yml"):
        result = subprocess.run(
            ["promtool", "check", "config", str(config)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"SUCCESS: {len(rules['rules'])} rules found" in result.stdout + result.stderr
    targets = yaml.safe_load((etc / "prometheus.yml").read_text("utf-8"))["scrape_configs"]
    assert targets[0]["static_configs"][0]["targets"] == ["api:8000"]


@pytest.fixture(scope="module")
def prometheus_image(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's Prometheus build on the local base image (no image registry here)."""
    require_system_tools("prometheus")
    context = tmp_path_factory.mktemp("prometheus-image")
    shutil.copy(shutil.which("prometheus") or "", context / "prometheus")
    name = f"localhost/churnops-test-prometheus-{uuid.uuid4().hex[:8]}"
    containerfile = Path(__file__).with_name("prometheus.Containerfile")
    podman(
        "build", "--quiet", "--format", "docker", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
        "--tag", name, "--file", str(containerfile), str(context),
    )  # fmt: skip
    yield name
    podman("rmi", "--force", name, check=False)


def podman_compose(project: str, env: dict[str, str], *args: str) -> None:
    command = [
        "podman-compose", "--podman-args", " ".join(PODMAN[1:]),
        "--podman-run-args", " ".join(LIMITS), "--project-name", project,
        "--file", str(COMPOSE), *args,
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}\n{result.stderr[-2000:]}"


def prometheus_api(url: str, path: str, **params: str) -> Any:
    return httpx.get(f"{url}/api/v1/{path}", params=params, timeout=5).json()["data"]


def loaded_rules(url: str) -> list[dict[str, Any]]:
    groups = prometheus_api(url, "rules")["groups"]
    return [rule for group in groups for rule in group["rules"]]


@pytest.mark.container
@pytest.mark.slow
def test_api_and_prometheus_run_under_compose(images: Images, prometheus_image: str) -> None:
    """`podman-compose up api prometheus`: Prometheus finds the API by its service name,
    scrapes its /metrics and loads every shipped alert rule."""
    require_system_tools("podman-compose")
    project = f"churnops-test-{uuid.uuid4().hex[:8]}"
    api_port, prometheus_port = free_port(), free_port()
    env = {
        "API_IMAGE": images.serve,
        "PROMETHEUS_IMAGE": prometheus_image,
        "API_PUBLISH": f"127.0.0.1:{api_port}",
        "PROMETHEUS_PUBLISH": f"127.0.0.1:{prometheus_port}",
    }
    url = f"http://127.0.0.1:{prometheus_port}"
    try:
        podman_compose(project, env, "up", "--detach", "--no-build", "api", "prometheus")
        wait_until(
            lambda: (
                [t["health"] for t in prometheus_api(url, "targets")["activeTargets"]] == ["up"]
            ),
            "Prometheus to scrape the API",
        )
        sample = prometheus_api(url, "query", query="churnops_model_ready")["result"]
        assert [s["metric"]["instance"] for s in sample] == ["api:8000"]
        wait_until(
            lambda: {r["health"] for r in loaded_rules(url)} == {"ok"}, "the rules' evaluation"
        )
        shipped = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text("utf-8"))
        names = [rule["alert"] for rule in shipped["groups"][0]["rules"]]
        assert [rule["name"] for rule in loaded_rules(url)] == names
    finally:
        podman_compose(project, env, "down", "--volumes")
        podman("network", "rm", "--force", f"{project}_default", check=False)
