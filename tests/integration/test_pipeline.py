"""The core pipeline end to end through the command line: train, gate, roll back, promote,
refuse damaged models, evaluate — and the registry's three views always tell the same story."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_support import CliRun, RunCli, registry_bytes

# one tree fewer than the shared trained home's v1: each retrain is a model of its own (a retrain
# identical to the current version registers nothing)
V1_TREES = "59"


Run = CliRun
Churnops = RunCli


@pytest.fixture
def churnops(monkeypatch: pytest.MonkeyPatch, run_cli: RunCli, trained_home: Path) -> Churnops:
    """Run ``churnops ARGS… --home <trained home>`` in-process: exit code, stdout, stderr."""
    monkeypatch.setenv("CHURNOPS_N_ESTIMATORS", V1_TREES)

    def run(*args: str | Path) -> CliRun:
        return run_cli(*args, "--home", trained_home)

    return run


def story(churnops: Churnops, home: Path) -> tuple[int | None, list[tuple[int, str]], list[Any]]:
    """What list, history and current_model.txt say, checked against each other."""
    versions = churnops("registry", "list", "--json").json()
    history = churnops("registry", "history", "--json").json()
    current = [v for v in versions if v["status"] == "current"]
    assert len(current) <= 1
    pointer = (home / "registry" / "current_model.txt").read_text("utf-8").strip()
    current_version = current[0]["version"] if current else None
    if current:
        assert pointer == current[0]["file"]
    last_move = [e for e in history if e["action"] != "reject"][-1]
    assert last_move["to_version"] == current_version
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
    return current_version, [(v["version"], v["status"]) for v in versions], history


def test_train_twice_roll_back_promote(churnops: Churnops, trained_home: Path) -> None:
    """Train v2, roll back to v1, promote v2 again, roll back --to v1: after each move the
    version list, the history and current_model.txt agree, and the stats follow the current."""
    assert churnops("train").code == 0
    assert story(churnops, trained_home)[:2] == (2, [(1, "archived"), (2, "current")])
    stats = trained_home / "registry" / "train_stats.json"
    v1_stats = (trained_home / "registry/versions/v1/train_stats.json").read_bytes()
    v2_stats = (trained_home / "registry/versions/v2/train_stats.json").read_bytes()
    assert stats.read_bytes() == v2_stats

    moved = churnops("rollback", "--reason", "latency regression", "--json")
    assert moved.code == 0 and moved.json()["from"] == 2 and moved.json()["to"] == 1
    current, versions, history = story(churnops, trained_home)
    assert (current, versions) == (1, [(1, "current"), (2, "archived")])
    assert history[-1]["reason"] == "latency regression"
    assert stats.read_bytes() == v1_stats

    candidates = churnops("rollback", "--list", "--json").json()
    assert [(c["version"], c["check"]) for c in candidates] == [(2, "ok")]

    assert churnops("promote", "v2").code == 0
    assert story(churnops, trained_home)[0] == 2
    assert stats.read_bytes() == v2_stats

    assert churnops("rollback", "--to", "v1").code == 0
    current, _, history = story(churnops, trained_home)
    assert current == 1
    assert [e["action"] for e in history] == [
        "register",
        "register",
        "rollback",
        "promote",
        "rollback",
    ]


def test_pipeline_command(churnops: Churnops, trained_home: Path) -> None:
    """`churnops pipeline` runs generate, prepare and train in one go and registers v2."""
    run = churnops("pipeline", "--rows", "2000", "--seed", "8", "--json")
    assert run.code == 0, run.err
    result = run.json()
    assert result["generate"]["rows"] == 2000
    assert result["prepare"]["gate"]["passed"] is True
    assert result["train"]["version"] == 2


def test_gate_reject_force_and_auc_drop(
    churnops: Churnops, trained_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The promotion gate through the CLI: a low AUC is rejected (exit 1, current untouched,
    reject in history), --force overrides and records it, a big AUC drop is rejected, and a
    rejected version is only promoted with --force."""
    before = registry_bytes(trained_home)
    monkeypatch.setenv("CHURNOPS_MIN_AUC", "0.99")
    rejected = churnops("train", "--json")
    assert rejected.code == 1
    assert rejected.json()["status"] == "rejected"
    current, versions, history = story(churnops, trained_home)
    assert (current, versions) == (1, [(1, "current"), (2, "rejected")])
    assert history[-1]["action"] == "reject"
    after = registry_bytes(trained_home)
    assert after["current_model.txt"] == before["current_model.txt"]
    assert after["train_stats.json"] == before["train_stats.json"]

    forced = churnops("train", "--force", "--json")
    assert forced.code == 0 and forced.json()["status"] == "current"
    shown = churnops("registry", "show", "v3", "--json").json()
    assert shown["gate"]["forced"] is True and shown["gate"]["passed"] is False
    assert "forced past the gate" in story(churnops, trained_home)[2][-1]["reason"]

    monkeypatch.setenv("CHURNOPS_MIN_AUC", "0")
    for name, value in {"N_ESTIMATORS": "1", "MAX_DEPTH": "1", "MAX_FEATURES": "1.0"}.items():
        monkeypatch.setenv(f"CHURNOPS_{name}", value)
    weak = churnops("train", "--json")
    assert weak.code == 1
    assert "falls behind current v3" in weak.json()["reason"]

    refused = churnops("promote", "v2")
    assert refused.code == 1 and "--force" in refused.err
    assert churnops("promote", "v2", "--force").code == 0
    assert story(churnops, trained_home)[0] == 2


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("flip-onnx", "does not match its registered SHA-256"),
        ("delete-joblib", "is missing"),
    ],
)
def test_damaged_artifacts_are_refused(
    churnops: Churnops, trained_home: Path, damage: str, words: str
) -> None:
    """With v1's .onnx or .joblib altered by one byte or deleted, rollback and promote to v1
    exit 1 with one line and leave every registry file byte for byte; rollback --list shows
    the failed check."""
    assert churnops("train").code == 0
    entry = churnops("registry", "show", "v1", "--json").json()
    action, kind = damage.split("-")
    path = trained_home / "models" / (entry["onnx_file"] if kind == "onnx" else entry["file"])
    if action == "flip":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.unlink()
    before = registry_bytes(trained_home)
    for args in (["rollback"], ["promote", "v1"], ["rollback", "--to", "v1"]):
        run = churnops(*args)
        assert run.code == 1, (args, run.err)
        assert words in run.err and "Traceback" not in run.err
        assert len(run.err.strip().splitlines()) == 1
        assert registry_bytes(trained_home) == before
    (candidate,) = churnops("rollback", "--list", "--json").json()
    assert words in candidate["check"]


def test_stray_artifacts_do_not_set_the_version_number(
    churnops: Churnops, trained_home: Path
) -> None:
    """A stray churn_model_v5_….joblib in models/ (e.g. from a crashed run) does not move the
    numbering: version numbers come from the registry alone."""
    (trained_home / "models" / "churn_model_v5_20240101_120000.joblib").write_bytes(b"orphan")
    assert churnops("train", "--json").json()["version"] == 2
    assert [v for v, _ in story(churnops, trained_home)[1]] == [1, 2]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda text: text[:-40], "not valid JSON"),
        (lambda text: text.replace('"seed": 42', '"seed": "forty-two"'), "seed"),
        (lambda text: text.replace('"current_version": 1', '"current_version": [1]'), "current"),
    ],
    ids=["truncated", "wrong-type-seed", "wrong-type-current"],
)
def test_damaged_metadata_is_never_overwritten(
    churnops: Churnops, trained_home: Path, edit: Callable[[str], str], words: str
) -> None:
    """A corrupted or hand-edited metadata.json stops list, train and rollback with exit 2 and
    a one-line error; train does not overwrite it or add artifacts."""
    metadata = trained_home / "registry" / "metadata.json"
    damaged = edit(metadata.read_text("utf-8"))
    assert damaged != metadata.read_text("utf-8")
    metadata.write_text(damaged, encoding="utf-8")
    models_before = sorted(p.name for p in (trained_home / "models").iterdir())
    for args in (["registry", "list"], ["train"], ["rollback"], ["promote", "v1"]):
        run = churnops(*args)
        assert run.code == 2, (args, run.err)
        assert words in run.err
        assert len(run.err.strip().splitlines()) == 1
        assert "Traceback" not in run.err
    assert metadata.read_text("utf-8") == damaged
    assert sorted(p.name for p in (trained_home / "models").iterdir()) == models_before


def test_evaluate_side_by_side(churnops: Churnops, trained_home: Path) -> None:
    """evaluate v1 v2 scores both on the same customers — the hold-out neither trained on, or
    one CSV with --data — and writes the comparison figures and the page under reports/."""
    assert churnops("train").code == 0
    on_holdout = churnops("evaluate", "v1", "v2", "--json")
    assert on_holdout.code == 0, on_holdout.err
    result = on_holdout.json()
    assert [r["version"] for r in result["versions"]] == ["v1", "v2"]
    assert [r["metrics"]["rows"] for r in result["versions"]] == [result["data"]["rows"]] * 2
    raw = trained_home / "data" / "raw.csv"
    on_csv = churnops("evaluate", "v1", "v2", "--data", raw, "--json").json()
    assert (
        on_csv["versions"][0]["metrics"]["rows"] == on_csv["versions"][1]["metrics"]["rows"] > 3_000
    )
    assert on_csv["data"]["oracle_roc_auc"] is not None  # data/raw.csv came from `generate`
    table = churnops("evaluate", "v1", "v2")
    assert table.code == 0 and "roc_auc" in table.out and "report.html" in table.out
    (folder,) = {Path(p).parent for p in on_csv["figures"].values()}
    assert folder.parent == trained_home / "reports" and folder.name.endswith("_v1_v2")
    pngs = sorted(p.stem for p in folder.glob("*.png"))
    assert pngs == sorted(
        ["roc", "precision_recall", "calibration", "gains", "confusion", "importance"]
    )
    for png in folder.glob("*.png"):
        assert png.read_bytes().startswith(b"\x89PNG")
    assert (folder / "report.html").is_file()
