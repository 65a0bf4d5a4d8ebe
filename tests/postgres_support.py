"""A real PostgreSQL server for the tests and benchmarks: Debian's binaries, a throw-away
cluster in a temporary folder, TCP on a free loopback port, password authentication.

initdb refuses to run as root, so as root the cluster belongs to ``nobody`` (created with
``useradd`` where missing); its folder is made outside pytest's private temporary folders,
which ``nobody`` cannot enter.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg


def _debian_bin() -> Path:
    """The newest server Debian's ``postgresql`` package installed (15 on bookworm)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = (
    Path(os.environ["CHURNOPS_TEST_PG_BIN"])
    if "CHURNOPS_TEST_PG_BIN" in os.environ
    else _debian_bin()
)
SUPERUSER = "postgres"
PASSWORD = "test-password"
SERVER_USER = "nobody"


def available() -> bool:
    return (PG_BIN / "initdb").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_user() -> str | None:
    """Who runs the server: ``nobody`` when we are root (created if missing), else us."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SERVER_USER], check=True)
    return SERVER_USER


@dataclass
class Cluster:
    folder: Path
    port: int
    user: str | None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [str(PG_BIN / args[0]), *args[1:]],
            check=True,
            user=self.user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.folder,
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", "server.log", "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """``pg_ctl restart`` (fast: open connections are cut), with the options it started with."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "restart")

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def running_cluster() -> Iterator[Cluster]:
    """initdb + pg_ctl start in a temporary folder; stopped and removed at the end."""
    user = _server_user()
    folder = Path(tempfile.mkdtemp(prefix="churnops-pg-"))
    cluster = Cluster(folder, _free_port(), user)
    try:
        (folder / "password").write_text(PASSWORD + "\n")
        if user is not None:
            shutil.chown(folder, user)
            shutil.chown(folder / "password", user)
        cluster._run(
            "initdb",
            "-D",
            str(cluster.data),
            "-U",
            SUPERUSER,
            "--pwfile",
            str(folder / "password"),
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
