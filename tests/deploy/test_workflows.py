"""The CI/CD workflows, checked offline (they cannot run here): valid against GitHub's workflow
schema, and every step they run is a Makefile target or a job the manifests define."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
MAKEFILE = (ROOT / "Makefile").read_text("utf-8")


def run_steps() -> list[str]:
    steps = [
        step["run"]
        for path in WORKFLOWS
        for job in yaml.safe_load(path.read_text("utf-8"))["jobs"].values()
        for step in job["steps"]
        if "run" in step
    ]
    assert steps
    return steps


def test_workflows_follow_the_github_workflow_schema() -> None:
    """GitHub's workflow schema (SchemaStore's, vendored by check-jsonschema) accepts them."""
    checker = [
        sys.executable,
        "-m",
        "check_jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
    ]
    result = subprocess.run([*checker, *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_make_target_a_workflow_runs_exists() -> None:
    """The workflows run what `make test` runs: each `make X` is a target of the Makefile."""
    targets = set(re.findall(r"^([\w./-]+):", MAKEFILE, re.M))
    # each `make` followed by its plain words (targets), up to the first VAR=value or symbol
    calls = [
        m for step in run_steps() for m in re.findall(r"\bmake((?:\s+[\w./-]+(?=[\s)]|$))+)", step)
    ]
    called = {word for call in calls for word in call.split() if not word.startswith("-")}
    assert called and sorted(called - targets) == []


def test_model_workflow_runs_jobs_the_manifests_define() -> None:
    """The scheduled drift check and the retrain start CronJobs that deploy/k8s defines."""
    defined = {
        doc["metadata"]["name"]
        for path in (ROOT / "deploy" / "k8s" / "base").glob("cronjob-*.yaml")
        for doc in yaml.safe_load_all(path.read_text("utf-8"))
    }
    started = {m for step in run_steps() for m in re.findall(r"run-job\.sh (\S+)", step)}
    assert started == {"churnops-drift", "churnops-train"} and started <= defined


def test_ci_covers_the_supported_pythons_and_the_lowest_versions() -> None:
    """Tests on every supported Python (3.11–3.13), the lowest-versions job on the oldest."""
    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text("utf-8"))["jobs"]
    assert jobs["test"]["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]
    assert any("make test-lowest" in step.get("run", "") for step in jobs["lowest"]["steps"])
    assert "--python 3.11" in MAKEFILE
