"""Helpers for the API integration tests: a two-version project, and a real uvicorn server.

(A plain module, imported by name: pytest puts each test folder on ``sys.path``.)"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from churnops import workflow
from churnops.registry.promotion import switch
from churnops.schema import SEED_EXAMPLE
from churnops.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
SEED_BODY = dict(SEED_EXAMPLE)
ADMIN_TOKEN = "integration-admin-token"
NOFILE = resource.RLIMIT_NOFILE


def api_settings(home: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "rows": 4_000,
        "n_estimators": 60,
        "poll_interval": 0.2,
        "log_flush_interval": 0.05,
        "admin_token": ADMIN_TOKEN,
        **overrides,
    }
    return load_settings(home=home, **values)


def add_second_version(home: Path) -> None:
    """Register v2 (another seed: other probabilities) and leave v1 current."""
    workflow.train_step(load_settings(home=home, rows=4_000, n_estimators=60, seed=7), force=True)
    switch(load_settings(home=home), "rollback", 1, "test setup: v1 serves, v2 waits")


def copy_home(template: Path, destination: Path) -> Path:
    shutil.copytree(template, destination)
    return destination


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> bool:
        """SIGTERM (graceful: in-flight requests finish, the log is flushed); True when the
        process then ended as uvicorn does after a clean shutdown (it re-raises the signal)."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60) in (0, -signal.SIGTERM)


@contextmanager
def running(
    command: list[str],
    home: Path,
    port: int,
    *,
    stderr: IO[bytes] | int | None = None,
    stdout: IO[bytes] | int | None = None,
    open_files: tuple[int, int] | None = None,
    **env: str,
) -> Iterator[Server]:
    """Run ``command`` (a server on ``port``) from the project root until it answers; its
    stdout and stderr into ``stdout`` and ``stderr`` if given (``subprocess.PIPE`` too), with
    ``open_files`` (soft, hard) as its open-files limits if given."""
    environment = {
        **os.environ,
        "CHURNOPS_HOME": str(home),
        "CHURNOPS_POLL_INTERVAL": "0.2",
        "CHURNOPS_ADMIN_TOKEN": ADMIN_TOKEN,
        **env,
    }
    limit = None if open_files is None else (lambda: resource.setrlimit(NOFILE, open_files))
    process = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=stdout, stderr=stderr, preexec_fn=limit
    )
    server = Server(process, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 120  # several workers on a busy 2-core machine: ~50 s
        while True:
            try:
                httpx.get(f"{server.url}/health/live", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command} did not start") from None
                time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def uvicorn_command(target: str, port: int, *extra: str) -> list[str]:
    address = ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    return [sys.executable, "-m", "uvicorn", target, *address, *extra]


def churnops_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "churnops", *args]


@dataclass
class LoadResult:
    ok: int
    failures: list[str]
    answers: list[tuple[float, int, str]]  # (monotonic time, model version, request id) per 2xx
    probabilities: list[tuple[int, float]]  # (model version, probability) per single-row 2xx


def run_load(
    url: str,
    stop: Callable[[], bool],
    connections: int = 8,
    batch: int = 0,
    body: dict[str, Any] = SEED_BODY,
) -> LoadResult:
    """``connections`` clients posting ``body`` (or a batch of that many of it) as fast as they
    can until ``stop()``; each non-2xx or transport error is a failure."""
    result = LoadResult(ok=0, failures=[], answers=[], probabilities=[])
    path, payload = ("/predict", body) if not batch else ("/predict/batch", [body] * batch)

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            while not stop():
                try:
                    response = await client.post(path, json=payload)
                except httpx.TransportError as exc:
                    result.failures.append(f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(0.01)
                    continue
                if response.is_success:
                    result.ok += max(batch, 1)
                    answer = response.json()
                    version = answer["model_version"]
                    result.answers.append((time.monotonic(), version, answer["request_id"]))
                    if not batch:
                        result.probabilities.append((version, answer["churn_probability"]))
                else:
                    result.failures.append(f"{response.status_code}: {response.text[:200]}")

    async def main() -> None:
        await asyncio.gather(*[client_loop() for _ in range(connections)])

    asyncio.run(main())
    return result


def in_background(function: Callable[[], LoadResult]) -> Callable[[], LoadResult]:
    """Start ``function`` in a thread; the returned callable joins it and gives its result."""
    box: list[LoadResult] = []
    thread = threading.Thread(target=lambda: box.append(function()))
    thread.start()

    def join() -> LoadResult:
        thread.join(timeout=120)
        return box[0]

    return join


def logged_request_ids(settings: Settings) -> set[str]:
    conn = sqlite3.connect(settings.inference_db)
    try:
        return {row[0] for row in conn.execute("SELECT request_id FROM inference_log")}
    finally:
        conn.close()


def logged_rows(settings: Settings) -> int:
    conn = sqlite3.connect(settings.inference_db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM inference_log").fetchone()[0])
    finally:
        conn.close()
