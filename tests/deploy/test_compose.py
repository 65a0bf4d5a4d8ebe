"""compose.yaml, compose.postgres.yaml and the Prometheus files: valid, wired to files that
exist, and the parts of the stacks that can run here run for real with podman-compose: API +
Prometheus, and two API replicas on PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from container_support import (
    LIMITS,
    PODMAN,
    ROOT,
    TRAIN_ENV,
    Images,
    podman,
    require_system_tools,
    wait_until,
)
from integration.api_support import SEED_BODY, free_port

import churnops

COMPOSE = ROOT / "compose.yaml"
ON_POSTGRES = ROOT / "compose.postgres.yaml"  # added to COMPOSE with a second --file
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
BASE_IMAGE = "localhost/churnops-base:bookworm-py3.11"


def compose(path: Path = COMPOSE) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return loaded


def default_of(value: str) -> str:
    """``${NAME:-default}`` → ``default`` (a plain value is its own default)."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    return match.group(1) if match else value


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    pairs = [volume.split(":")[:2] for volume in service.get("volumes", [])]
    return [(ROOT / source, target) for source, target in pairs if source.startswith("./")]


@pytest.mark.parametrize("path", [COMPOSE, ON_POSTGRES], ids=lambda path: path.name)
def test_compose_files_follow_the_compose_specification(path: Path) -> None:
    """The Compose specification's JSON schema (vendored by check-jsonschema) accepts them."""
    checker = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    result = subprocess.run([*checker, str(path)], capture_output=True, text=True)
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
    for service in [*services.values(), *compose(ON_POSTGRES)["services"].values()]:
        for source, _ in bind_mounts(service):
            assert source.exists(), f"{source} is mounted but does not exist"


def test_the_postgres_file_puts_every_churnops_service_on_one_database() -> None:
    """compose.postgres.yaml gives the database URL to every service of compose.yaml that runs
    churnops and to its own (with no password written in it), starts the APIs after the
    schema upgrade, runs the second API like the first, and has Prometheus scrape both."""
    base, services = compose()["services"], compose(ON_POSTGRES)["services"]
    (url,) = {e for e in services["api"]["environment"] if e.startswith("CHURNOPS_DATABASE_URL=")}
    assert "${POSTGRES_PASSWORD:?" in url and url.endswith("@postgres:5432/churnops")
    runs_churnops = [n for n, s in base.items() if "churnops" in default_of(s["image"])]
    assert sorted(runs_churnops) == ["api", "drift", "train"]
    for name in [*runs_churnops, "db-upgrade", "api-2"]:
        assert url in services[name]["environment"], name
    assert services["db-upgrade"]["command"] == ["db", "upgrade"]
    for name in ("api", "api-2"):
        assert services[name]["depends_on"]["db-upgrade"] == {
            "condition": "service_completed_successfully"
        }
    second, first = services["api-2"], base["api"]
    for key in ("image", "volumes", "read_only", "tmpfs", "stop_grace_period", "restart"):
        assert second[key] == first[key], key
    assert set(first["environment"]) < set(second["environment"])
    assert [port.rsplit(":", 1)[1] for port in second["ports"]] == ["8000"]
    (config,) = [s for s, target in bind_mounts(services["prometheus"]) if target.endswith(".yml")]
    targets = yaml.safe_load(config.read_text("utf-8"))["scrape_configs"][0]["static_configs"]
    assert targets[0]["targets"] == ["api:8000", "api-2:8000"]


def test_prometheus_files_pass_promtool(tmp_path: Path) -> None:
    """`promtool check` accepts the stand-alone config with its rules, and the compose configs
    laid out as compose mounts them (so their rule file is the shipped alerts.yml)."""
    require_system_tools("promtool")
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text("utf-8"))["groups"][0]
    etc = tmp_path / "etc"
    etc.mkdir()
    for source, target in bind_mounts(compose()["services"]["prometheus"]):
        shutil.copy(source, etc / Path(target).name)
    # compose.postgres.yaml mounts its own config in the same place, beside the same rules
    (on_postgres,) = bind_mounts(compose(ON_POSTGRES)["services"]["prometheus"])
    shutil.copy(on_postgres[0], etc / "prometheus-postgres.yml")
    configs = ("prometheus.yml", "prometheus-postgres.yml")
    for config in (PROMETHEUS_DIR / "prometheus.yml", *[etc / name for name in configs]):
        result = subprocess.run(
            ["promtool", "check", "config", str(config)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"SUCCESS: {len(rules['rules'])} rules found" in result.stdout + result.stderr
    targets = yaml.safe_load((etc / "prometheus.yml").read_text("utf-8"))["scrape_configs"]
    assert targets[0]["static_configs"][0]["targets"] == ["api:8000"]


@contextmanager
def local_image(what: str, context: Path) -> Iterator[str]:
    """``WHAT.Containerfile`` (beside this file) built on the local base image under a private
    name, removed afterwards."""
    name = f"localhost/churnops-test-{what}-{uuid.uuid4().hex[:8]}"
    containerfile = Path(__file__).with_name(f"{what}.Containerfile")
    podman(
        "build", "--quiet", "--format", "docker", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
        "--tag", name, "--file", str(containerfile), str(context),
    )  # fmt: skip
    try:
        yield name
    finally:
        podman("rmi", "--force", name, check=False)


@pytest.fixture(scope="module")
def prometheus_image(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's Prometheus build on the local base image (no image registry here)."""
    require_system_tools("prometheus")
    context = tmp_path_factory.mktemp("prometheus-image")
    shutil.copy(shutil.which("prometheus") or "", context / "prometheus")
    with local_image("prometheus", context) as name:
        yield name


def podman_compose(
    project: str, env: dict[str, str], *args: str, files: tuple[Path, ...] = (COMPOSE,)
) -> str:
    command = [
        "podman-compose", "--podman-args", " ".join(PODMAN[1:]),
        "--podman-run-args", " ".join(LIMITS), "--project-name", project,
        *[f"--file={path}" for path in files], *args,
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result.stdout


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


@pytest.fixture(scope="module")
def postgres_image(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's PostgreSQL, installed by apt on the local base image and started like the
    official postgres image (which cannot be pulled here)."""
    context = tmp_path_factory.mktemp("postgres-image")
    shutil.copy(Path(__file__).with_name("postgres-entrypoint.sh"), context)
    with local_image("postgres", context) as name:
        yield name


def model_info(url: str) -> dict[str, Any]:
    info: dict[str, Any] = httpx.get(f"{url}/model-info", timeout=5).json()
    return info


@pytest.mark.container
@pytest.mark.slow
def test_two_api_replicas_follow_one_postgres_database(images: Images, postgres_image: str) -> None:
    """compose.yaml + compose.postgres.yaml: PostgreSQL, the schema upgrade, then two API
    replicas on the database. Models trained and promoted through the jobs image reach both
    replicas, which are told by NOTIFY and answer the same customer alike."""
    require_system_tools("podman-compose")
    project = f"churnops-test-{uuid.uuid4().hex[:8]}"
    ports = free_port(), free_port()
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    env = {
        "API_IMAGE": images.serve,
        "JOBS_IMAGE": images.full,
        "POSTGRES_IMAGE": postgres_image,
        "POSTGRES_PASSWORD": uuid.uuid4().hex,
        "API_PUBLISH": f"127.0.0.1:{ports[0]}",
        "API_2_PUBLISH": f"127.0.0.1:{ports[1]}",
    }

    def stack(*args: str) -> str:
        return podman_compose(project, env, *args, files=(COMPOSE, ON_POSTGRES))

    def job(*command: str) -> str:
        options = [f"--env={key}={value}" for key, value in TRAIN_ENV.items()]
        return stack("run", "--rm", "--no-deps", "-T", *options, "train", *command)

    def all_serve(version: int) -> bool:
        return all(model_info(url)["version"] == version for url in urls)

    try:
        stack("up", "--detach", "--no-build", "postgres")
        database = f"{project}_postgres_1"
        wait_until(
            lambda: podman("exec", database, "pg_isready", check=False).returncode == 0,
            "PostgreSQL to accept connections",
        )
        stack("up", "--detach", "--no-build", "db-upgrade")
        exit_code = podman("wait", f"{project}_db-upgrade_1").stdout.strip()
        upgrade_log = podman("logs", f"{project}_db-upgrade_1").stdout
        assert exit_code == "0", upgrade_log
        assert env["POSTGRES_PASSWORD"] not in upgrade_log
        stack("up", "--detach", "--no-build", "api", "api-2")
        for url in urls:
            wait_until(lambda url=url: httpx.get(f"{url}/health/live", timeout=2).is_success, url)

        trained = job()  # the service's command: pipeline (v1, through the gate)
        wait_until(lambda: all_serve(1), f"both replicas to serve v1:\n{trained[-2000:]}")
        job("train", "--force", "--seed", "7")
        wait_until(lambda: all_serve(2), "both replicas to serve v2")
        job("promote", "v1", "--reason", "compose test")
        wait_until(lambda: all_serve(1), "the promotion to reach both replicas")

        infos = [model_info(url) for url in urls]
        assert [info["registry_updates"] for info in infos] == ["notify", "notify"]
        assert infos[0]["sha256"] == infos[1]["sha256"]
        answers = [httpx.post(f"{url}/predict", json=SEED_BODY, timeout=10) for url in urls]
        assert [a.status_code for a in answers] == [200, 200]
        assert answers[0].json()["churn_probability"] == answers[1].json()["churn_probability"]
        assert {a.json()["model_version"] for a in answers} == {1}
    finally:
        stack("down", "--volumes")
        podman("network", "rm", "--force", f"{project}_default", check=False)
