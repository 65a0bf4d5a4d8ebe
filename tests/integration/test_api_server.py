"""The API as deployed: real uvicorn processes, signals, hot swaps under load, several workers."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from api_support import (
    ROOT,
    SEED_BODY,
    add_second_version,
    api_settings,
    churnops_command,
    free_port,
    in_background,
    logged_rows,
    run_load,
    running,
    uvicorn_command,
)
from serving_support import body_for_both, register_other_schema, scored_by, table_schema

from churnops import logstore
from churnops.registry.promotion import switch
from churnops.settings import Settings


@pytest.fixture(scope="module")
def _two_versions(_trained_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("server") / "home"
    shutil.copytree(_trained_template, home)
    add_second_version(home)
    return home


@pytest.fixture
def two_versions(_two_versions: Path, tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    shutil.copytree(_two_versions, home)
    return api_settings(home)


def test_seed_command_serves_from_the_project_root(trained_home: Path) -> None:
    """`uvicorn src.api:app` (the seed's command, run from the repository root) answers the
    seed's curl example."""
    port = free_port()
    with running(uvicorn_command("src.api:app", port), trained_home, port) as server:
        response = httpx.post(f"{server.url}/predict", json=SEED_BODY)
        assert response.status_code == 200 and response.json()["model_version"] == 1
        assert server.stop()


@pytest.mark.parametrize("case", ["missing home", "home is a file", "invalid setting"])
def test_the_lab_command_refuses_a_wrong_setting_in_one_line(tmp_path: Path, case: str) -> None:
    """`uvicorn src.api:app` with a CHURNOPS_HOME that does not exist or is a file, or with an
    invalid setting: exit 3 (uvicorn's code for a failed start) before serving, one line saying
    what to check, no traceback, no folder made. It served "no model yet" from a project folder
    it created where the typo pointed, and an invalid setting was uvicorn's traceback."""
    missing, a_file = tmp_path / "typo", tmp_path / "a-file"
    a_file.write_text("not a folder\n")
    env, expected = {
        "missing home": (
            {"CHURNOPS_HOME": str(missing)},
            f"error: project folder {missing} does not exist: check CHURNOPS_HOME, or start",
        ),
        "home is a file": (
            {"CHURNOPS_HOME": str(a_file)},
            f"error: project folder {a_file} is a file, not a folder: check CHURNOPS_HOME",
        ),
        "invalid setting": (
            {"CHURNOPS_HOME": str(tmp_path), "CHURNOPS_POLL_INTERVAL": "often"},
            "error: invalid setting poll_interval = 'often': Input should be a valid number",
        ),
    }[case]
    done = subprocess.run(
        uvicorn_command("src.api:app", free_port()),
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    assert not missing.exists()


BROKEN_LOGS = {
    "a file at logs/": "make sure its folder can be created and written to, or set "
    "CHURNOPS_INFERENCE_LOG=false",
    "a log that is not SQLite": "is not a readable inference log (file is not a database); "
    "move it aside",
}


def break_the_log(home: Path, broken: str) -> Path:
    """The inference log of ``home`` made impossible to open as ``broken`` says; its path."""
    log = home / "logs" / "inference.sqlite"
    shutil.rmtree(home / "logs", ignore_errors=True)
    if broken == "a file at logs/":
        (home / "logs").write_text("not a folder\n")
    else:
        log.parent.mkdir()
        log.write_bytes(b"not a database, " * 512)
    return log


def start_and_fail(command: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "CHURNOPS_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("broken", BROKEN_LOGS)
def test_a_log_that_cannot_be_opened_stops_uvicorn_in_one_line(
    trained_home: Path, broken: str
) -> None:
    """`uvicorn src.api:app` with an inference log it cannot open: exit 3 with one line naming
    the log and what to do, then uvicorn's own line; no traceback (Starlette's was printed
    whole, and a log that is not SQLite was said to need its folder's permissions)."""
    log = break_the_log(trained_home, broken)
    done = start_and_fail(uvicorn_command("src.api:app", free_port()), trained_home)
    assert done.returncode == 3, (done.stdout, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 2 and "Traceback" not in done.stderr, done.stderr
    assert errors[0].split(maxsplit=1)[1].startswith("cannot open the inference log")
    assert str(log) in errors[0] and BROKEN_LOGS[broken] in errors[0], errors[0]
    assert errors[1] == "ERROR:    Application startup failed. Exiting."


@pytest.mark.parametrize("broken", BROKEN_LOGS)
def test_serve_refuses_a_log_it_cannot_open_before_any_worker(
    trained_home: Path, broken: str
) -> None:
    """`churnops serve --workers 2` with an inference log it cannot open: one line, exit 3,
    before the banner. Each worker failed its start-up instead: uvicorn printed tracebacks,
    then stopped with exit 0 (or, in older releases, restarted the workers for ever)."""
    log = break_the_log(trained_home, broken)
    port = str(free_port())
    command = churnops_command(
        "serve", "--home", str(trained_home), "--workers", "2", "--port", port
    )
    done = start_and_fail(command, trained_home)
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot open the inference log"), lines
    assert str(log) in lines[0] and BROKEN_LOGS[broken] in lines[0], lines


def test_serve_on_a_taken_port_says_so_before_its_banner(trained_home: Path) -> None:
    """With another server listening on the port, `churnops serve` prints one error line and
    exits 3, without its banner (whose curl would reach that other server) or loading a model."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        command = churnops_command("serve", "--home", str(trained_home), "--port", str(port))
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        f"error: port {port} on 127.0.0.1 is already in use: stop what uses it or pick "
        "another with --port"
    ]


def _banner(process: subprocess.Popen[bytes]) -> list[str]:
    """The lines ``serve`` printed up to the end of its curl (``…}'``)."""
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].endswith("}'"):
        line = process.stdout.readline().decode()
        assert line, lines  # the banner ended without its curl
        lines.append(line.rstrip("\n"))
    return lines


def test_the_start_banner_fits_80_columns_and_its_curl_runs_as_printed(
    trained_home: Path,
) -> None:
    """At COLUMNS=80, `churnops serve` starts with lines of at most 80 characters (it was one
    line of about 125) but for the project path, which is never broken; the curl it prints,
    pasted into a shell, gets a prediction."""
    port = free_port()
    command = churnops_command("serve", "--home", str(trained_home), "--port", str(port))
    with running(command, trained_home, port, stdout=subprocess.PIPE, COLUMNS="80") as server:
        lines = _banner(server.process)
        assert lines[0] == f"serving {trained_home.resolve()}"
        assert all(len(line) <= 80 for line in lines[1:]), lines
        start = next(at for at, line in enumerate(lines) if line.startswith("curl"))
        curl = "\n".join(lines[start:])
        done = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["model_version"] == 1
        assert server.stop()


@pytest.mark.slow
def test_swaps_under_load_and_logs_every_answer(two_versions: Settings) -> None:
    """`churnops serve` under 8 concurrent clients: a promotion and a rollback cause no failed
    request, answers follow each within the poll interval, and after SIGTERM the log holds
    exactly one row per successful prediction."""
    port = free_port()
    command = churnops_command("serve", "--home", str(two_versions.home), "--port", str(port))
    with running(command, two_versions.home, port) as server:
        done = threading.Event()
        load = in_background(lambda: run_load(server.url, done.is_set))
        time.sleep(1.0)
        switch(two_versions, "promote", 2, "test: promote under load")
        promoted_at = time.monotonic()
        time.sleep(4.0)
        # the rollback takes effect at its commit, inside switch(): answers may follow it
        # before switch() returns, so v2 is expected only until the rollback starts
        rollback_starts = time.monotonic()
        switch(two_versions, "rollback", None, "test: roll back under load")
        rolled_back_at = time.monotonic()
        time.sleep(4.0)
        done.set()
        result = load()
        assert server.stop()
    assert result.failures == []
    assert result.ok > 200
    assert {version for _, version, _ in result.answers} == {1, 2}
    grace = two_versions.poll_interval + 2.5  # poll + verification (slow on a busy machine)
    for moment, version, _ in result.answers:
        if promoted_at + grace < moment < rollback_starts:
            assert version == 2
        if moment > rolled_back_at + grace:
            assert version == 1
    assert logged_rows(two_versions) == result.ok


@pytest.mark.slow
def test_sigterm_under_load_loses_no_log_row(trained_home: Path) -> None:
    """Stopped by SIGTERM while clients keep sending, the server finishes what it accepted
    and the log holds one row per 2xx answer (single and batch rows)."""
    settings = api_settings(trained_home)
    port = free_port()
    with running(uvicorn_command("churnops.api:app", port), trained_home, port) as server:
        gone = server.process.poll
        singles = in_background(lambda: run_load(server.url, lambda: gone() is not None))
        batches = in_background(
            lambda: run_load(server.url, lambda: gone() is not None, connections=2, batch=50)
        )
        time.sleep(2.0)
        assert server.stop()
        answered = singles().ok + batches().ok
    assert answered > 100
    assert logged_rows(settings) == answered


@pytest.mark.slow
def test_two_workers_share_the_log_and_both_follow_a_rollback(two_versions: Settings) -> None:
    """With --workers 2 every worker swaps on its own and both append to one SQLite log."""
    switch(two_versions, "promote", 2, "test: start on v2")
    port = free_port()
    command = churnops_command(
        "serve", "--home", str(two_versions.home), "--port", str(port), "--workers", "2"
    )
    with running(command, two_versions.home, port) as server:
        workers: set[str] = set()  # request ids are <process prefix>-<counter>
        warm_up, deadline = 0, time.monotonic() + 30
        while len(workers) < 2 and time.monotonic() < deadline:  # both up before the load
            answer = httpx.post(f"{server.url}/predict", json=SEED_BODY)  # a new connection
            workers.add(answer.json()["request_id"].split("-")[0])
            warm_up += 1
            time.sleep(0.05)
        done = threading.Event()
        load = in_background(lambda: run_load(server.url, done.is_set, connections=12))
        time.sleep(1.0)
        switch(two_versions, "rollback", None, "test: roll back with two workers")
        time.sleep(5.0)  # generous: on a loaded CI machine verifying a model takes time
        done.set()
        result = load()
        # keep-alive connections may all sit on one worker: ask each worker on fresh connections
        after: dict[str, set[int]] = {}
        probes, deadline = 0, time.monotonic() + 30
        while len(after) < 2 and time.monotonic() < deadline:
            answer = httpx.post(f"{server.url}/predict", json=SEED_BODY).json()
            after.setdefault(answer["request_id"].split("-")[0], set()).add(answer["model_version"])
            probes += 1
        assert server.stop()
    assert result.failures == []
    assert after == {worker: {1} for worker in workers}  # both workers follow the rollback
    assert logged_rows(two_versions) == result.ok + warm_up + probes


@pytest.fixture(scope="module")
def _telecom_waiting(_trained_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 on the built-in schema (current) and v2 on the 19-feature telecom table's."""
    home = tmp_path_factory.mktemp("telecom") / "home"
    shutil.copytree(_trained_template, home)
    assert register_other_schema(home, "telecom") == 2
    return home


@pytest.mark.slow
def test_swaps_between_schemas_under_load_give_no_error_and_no_wrong_answer(
    _telecom_waiting: Path, tmp_path: Path
) -> None:
    """`churnops serve` under 8 clients sending a body valid for both schemas (each version
    ignores the fields it does not take): promote the 19-feature version, roll back, promote
    again. No request fails, both versions answer, every answer — and every logged row — has
    the probability its version gives that body, and the log holds each row in its schema's
    columns."""
    home = tmp_path / "home"
    shutil.copytree(_telecom_waiting, home)
    settings = api_settings(home)
    telecom = table_schema(home, "telecom")
    body = body_for_both(telecom)
    truth = scored_by(settings, body)
    assert abs(truth[1] - truth[2]) > 1e-3  # the two versions are told apart by their answer
    port = free_port()
    command = churnops_command("serve", "--home", str(home), "--port", str(port))
    with running(command, home, port) as server:
        done = threading.Event()
        load = in_background(lambda: run_load(server.url, done.is_set, body=body))
        for action, version in (("promote", 2), ("rollback", 1), ("promote", 2)):
            time.sleep(2.5)
            switch(settings, action, version, f"test: {action} under load", force=True)
        time.sleep(2.5)
        done.set()
        result = load()
        assert server.stop()
    assert result.failures == []
    assert {version for version, _ in result.probabilities} == {1, 2}
    for version, probability in result.probabilities:
        assert probability == pytest.approx(truth[version], abs=1e-6)
    log = logstore.read(settings.inference_db, schema=None)
    assert len(log) == result.ok
    for version, rows in log.groupby("model_version"):
        assert rows["probability"].to_numpy() == pytest.approx(truth[int(version)], abs=1e-6)
    served_by_telecom = log["model_version"] == 2
    assert log.loc[served_by_telecom, "internet_service"].notna().all()
    assert log.loc[~served_by_telecom, "internet_service"].isna().all()
    assert log.loc[served_by_telecom, "contract_type"].isna().all()


def _wait_for_line(path: Path, line: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while line not in path.read_text(errors="replace"):
        assert process.poll() is None, path.read_text(errors="replace")
        assert time.monotonic() < deadline, f"no {line!r} in: {path.read_text(errors='replace')}"
        time.sleep(0.1)


@pytest.mark.parametrize("how", ["uvicorn src.api:app", "churnops serve"])
def test_model_swaps_are_logged_once_under_uvicorn_and_under_serve(
    two_versions: Settings, tmp_path: Path, how: str
) -> None:
    """The lab's `uvicorn src.api:app` logs each model swap as `churnops serve` does (INFO
    lines of churnops.serving, which uvicorn's own logging configuration leaves out), and
    neither logs one twice."""
    port = free_port()
    home = str(two_versions.home)
    command = (
        uvicorn_command("src.api:app", port)
        if how.startswith("uvicorn")
        else churnops_command("serve", "--home", home, "--port", str(port))
    )
    errors = tmp_path / "stderr.txt"
    with (
        errors.open("wb") as sink,
        running(command, two_versions.home, port, stderr=sink) as server,
    ):
        _wait_for_line(errors, "now serving v1 (was nothing)", server.process)
        switch(two_versions, "promote", 2, "test: a swap to log")
        _wait_for_line(errors, "now serving v2 (was v1)", server.process)
        assert server.stop()
    text = errors.read_text()
    assert text.count("now serving v1") == 1 and text.count("now serving v2") == 1, text
    assert "INFO:     now serving v2 (was v1)" in text, text
