"""The registry under concurrent writers and under crashes (SIGKILL) at random moments.

The crash tests use a small fork server: one driver process imports the package and trains
once, then forks a worker per round that registers (or promotes and rolls back) in a loop
until the test SIGKILLs it. Every round is a real process killed mid-work, without paying the
interpreter start-up for each round.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from churnops import workflow
from churnops.atomic import sha256_file
from churnops.database.url import DatabaseUrl
from churnops.registry.orphans import MIN_AGE_S
from churnops.registry.promotion import verify
from churnops.registry.store import Registry, open_registry
from churnops.settings import Settings, load_settings

pytestmark = pytest.mark.slow

ROUNDS = 8
FAST_ENV = {"CHURNOPS_N_ESTIMATORS": "20", "CHURNOPS_MIN_AUC": "0", "CHURNOPS_MAX_AUC_DROP": "1"}

DRIVER = r"""
import os, sys
from churnops.model.train import load_processed, train_model
from churnops.registry.lifecycle import register
from churnops.registry.promotion import switch
from churnops.registry.store import Registry
from churnops.settings import load_settings

home, mode = sys.argv[1], sys.argv[2]
settings = load_settings(home=home, n_estimators=5, min_auc=0.0, max_auc_drop=1.0)
trained = train_model(load_processed(settings.processed_csv).head(1500), settings, tune=False)
if mode == "switch":
    register(settings, trained, settings.processed_csv)  # v2, to switch with v1


def work():
    if mode == "register":
        register(settings, trained, settings.processed_csv)
    elif Registry(settings).read().current_version == 1:
        switch(settings, "promote", 2, "loop")
    else:
        switch(settings, "rollback", None, "loop")


print("ready", flush=True)
for _line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            while True:
                work()
        finally:
            os._exit(1)
    print(pid, flush=True)
    _pid, status = os.waitpid(pid, 0)
    print(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1, flush=True)
"""


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURNOPS_")}
    return env | FAST_ENV


def check_consistent(settings: Settings, repaired: bool) -> None:
    """What any reader may rely on after a crash; with ``repaired`` (after the next locked
    operation) also that every derived file agrees with metadata.json."""
    registry = Registry(settings)
    state = registry.read()  # parses and validates
    numbers = [v.version for v in state.versions]
    assert numbers == sorted(set(numbers))
    for entry in state.versions:
        assert sha256_file(registry.artifact_path(entry)) == entry.sha256, entry.name
        assert sha256_file(registry.onnx_path(entry)) == entry.onnx_sha256, entry.name
        for name in ("train_stats.json", "reference.parquet", "holdout.parquet"):
            assert (registry.version_dir(entry.version) / name).is_file(), (entry.name, name)
    # every number a killed registration wrote files for is at or below the high-water mark,
    # so it is never handed out again
    assert max(numbers_on_disk(registry)) <= state.last_version
    history = registry.history()  # every line parses
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert state.last_event is not None and state.current is not None
    assert registry.pointer() in {v.file for v in state.versions}
    assert history[-1].seq in (state.last_event.seq, state.last_event.seq - 1)
    if repaired:
        assert registry.pointer() == state.current.file
        assert history[-1] == state.last_event
        current_stats = registry.version_dir(state.current.version) / "train_stats.json"
        assert registry.stats_path.read_bytes() == current_stats.read_bytes()
        verify(registry, state.current)


def numbers_on_disk(registry: Registry) -> list[int]:
    """Version numbers in artifact names in models/ and in folder names under versions/."""
    names = [p.name for p in registry.models_dir.iterdir()]
    names += [p.name for p in (registry.dir / "versions").iterdir()]
    found = (re.fullmatch(r"(?:churn_model_)?v([0-9]+)(?:_.*)?", name) for name in names)
    return [int(match.group(1)) for match in found if match]


def leftovers(registry: Registry) -> set[str]:
    """Home-relative paths no registered version owns: artifacts, version folders, temps."""
    state = registry.read()
    owned = {name for v in state.versions for name in (v.file, v.onnx_file)}
    owned |= {f"v{v.version}" for v in state.versions}
    home = registry.models_dir.parent
    found = set()
    for folder in (registry.models_dir, registry.dir / "versions", registry.dir):
        for path in folder.iterdir():
            temporary = path.name.startswith(".") and path.name.endswith(".tmp")
            ours = path.name.startswith("churn_model_v") or folder.name == "versions"
            if temporary or (ours and path.name not in owned):
                found.add(str(path.relative_to(home)))
    for entry in state.versions:
        folder = registry.version_dir(entry.version)
        found |= {str(p.relative_to(home)) for p in folder.glob(".*.tmp")}
    return found


def age_everything(home: Path, seconds: float) -> None:
    when = time.time() - seconds
    for path in [*(home / "models").rglob("*"), *(home / "registry").rglob("*")]:
        os.utime(path, (when, when), follow_symlinks=False)


@pytest.fixture
def driver(trained_home: Path, request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[str]]:
    """The fork server for ``request.param`` mode, ready to fork its first worker. It runs in
    its own process group, so teardown also ends a worker left running by a failed test."""
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(trained_home), request.param],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=environment(),
        start_new_session=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield process
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)


def crash_rounds(
    driver: subprocess.Popen[str], settings: Settings, seed: int, progress: bool = False
) -> None:
    """Fork a worker, SIGKILL it after a random delay, check the registry, repair, check.
    With ``progress``, the last round kills its worker only once the registry changed (on a
    loaded machine every random delay can fall before the first registration ends)."""
    assert driver.stdin is not None and driver.stdout is not None
    rng = random.Random(seed)
    for round_ in range(ROUNDS):
        driver.stdin.write("go\n")
        driver.stdin.flush()
        worker = int(driver.stdout.readline())
        delay = rng.uniform(0.05, 0.6)
        if progress and round_ == ROUNDS - 1:
            _wait_for_a_change(Registry(settings))
        else:
            time.sleep(delay)
        os.kill(worker, signal.SIGKILL)
        # the worker was still at work when killed (it did not die of an error on its own)
        assert int(driver.stdout.readline()) == signal.SIGKILL
        check_consistent(settings, repaired=False)
        with Registry(settings).transaction():
            pass
        check_consistent(settings, repaired=True)


def _wait_for_a_change(registry: Registry) -> None:
    """Until the registry's metadata changes (a registration or a switch committed)."""
    before = registry.metadata_path.read_bytes()
    deadline = time.monotonic() + 120
    while registry.metadata_path.read_bytes() == before and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.parametrize("driver", ["register"], indirect=True)
def test_killed_registrations_leave_a_consistent_registry(
    driver: subprocess.Popen[str], trained_settings: Settings
) -> None:
    """A process registering versions in a loop, SIGKILLed at random moments, leaves
    metadata.json readable, every registered file present with its SHA-256, and pointer,
    statistics and history repaired by the next locked operation."""
    before = len(Registry(trained_settings).read().versions)
    crash_rounds(driver, trained_settings, seed=1, progress=True)
    assert len(Registry(trained_settings).read().versions) > before


@pytest.mark.parametrize("driver", ["register"], indirect=True)
def test_the_next_train_removes_what_killed_registrations_left(
    driver: subprocess.Popen[str], trained_settings: Settings
) -> None:
    """After SIGKILLed registrations, the next train (once the leftovers are an hour old)
    removes exactly the files and folders no registered version owns, lists them, and every
    registered version still verifies."""
    crash_rounds(driver, trained_settings, seed=3)
    registry = Registry(trained_settings)
    expected = leftovers(registry)
    age_everything(trained_settings.home, MIN_AGE_S + 60)
    fast = trained_settings.model_copy(update={"n_estimators": 5, "min_auc": 0.0})
    result = workflow.train_step(fast)
    assert set(result.registered.removed) == expected
    assert leftovers(registry) == set()
    check_consistent(trained_settings, repaired=True)
    for entry in registry.read().versions:
        verify(registry, entry)


@pytest.mark.parametrize("driver", ["switch"], indirect=True)
def test_killed_promote_rollback_loop_leaves_a_consistent_registry(
    driver: subprocess.Popen[str], trained_settings: Settings
) -> None:
    """A process promoting and rolling back in a loop, SIGKILLed at random moments, leaves a
    consistent registry whose current model verifies."""
    events_before = len(Registry(trained_settings).history())
    crash_rounds(driver, trained_settings, seed=2, progress=True)
    assert len(Registry(trained_settings).history()) > events_before


def test_two_trains_at_once_get_distinct_versions(trained_home: Path) -> None:
    """Two `churnops train` processes started together (two seeds: two different models)
    register v2 and v3; metadata.json keeps both entries and the history has one event each."""
    command = [sys.executable, "-m", "churnops", "train", "--home", str(trained_home), "--json"]
    processes = [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment() | {"CHURNOPS_SEED": str(seed)},
        )
        for seed in (1, 2)
    ]
    outputs = [process.communicate(timeout=180) for process in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    versions = sorted(json.loads(out)["version"] for out, _err in outputs)
    assert versions == [2, 3]
    settings = load_settings(home=trained_home)
    state = Registry(settings).read()
    assert [v.version for v in state.versions] == [1, 2, 3]
    assert [e.seq for e in Registry(settings).history()] == [1, 2, 3]
    check_consistent(settings, repaired=True)


def test_two_train_processes_on_one_database_get_distinct_versions(
    _trained_template: Path, database: DatabaseUrl, tmp_path: Path
) -> None:
    """Two `churnops train` processes on two machines (their own homes holding only the
    prepared data) and one database, started together: two distinct versions, both in the
    history, and both sets of artifacts verify from a third, empty home."""
    homes = [tmp_path / name for name in ("a", "b")]
    for home in homes:
        (home / "data").mkdir(parents=True)
        shutil.copy(_trained_template / "data" / "processed.csv", home / "data")
    env = environment() | {"CHURNOPS_DATABASE_URL": database.value}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "churnops", "train", "--home", str(home), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env | {"CHURNOPS_SEED": str(seed)},
        )
        for seed, home in enumerate(homes, start=1)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    assert sorted(json.loads(out)["version"] for out, _err in outputs) == [1, 2]
    registry = open_registry(load_settings(home=tmp_path / "c", database_url=database.value))
    history = registry.history()
    assert sorted(e.to_version for e in history if e.action == "register") == [1, 2]
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    for entry in registry.read().versions:
        verify(registry, entry)
