"""`churnops db import` speed: a SQLite inference log of --rows rows copied into PostgreSQL;
and `--last N` reads of the database's log with and without the index on id (migration 3).

    .venv/bin/python benchmarks/bench_db_import.py [--rows 1000000] [--repeat 3]

Starts a throw-away PostgreSQL cluster (Debian's binaries, as the tests do), trains v1 in a
project folder and logs --rows scored rows to its SQLite log, then, in the same run:

1. baseline: the same rows read from the file and written with the log writer's binary COPY
   (``logtable.insert``) into a fresh database, nothing else — the floor an import can reach;
2. the import (``home_import.plan`` + ``import_log``: checks, keys, the copy, the read-back
   verification) into a fresh database, ``--repeat`` times: median rows/s and the ratio to the
   baseline; then the same import again (nothing copied, everything checked);
3. ``churnops db import --from HOME`` in a fresh process into a fresh database: the whole wall
   time a user waits (start-up and the registry's artifacts included);
4. ``--last 1000`` (``logstore.read``, the newest rows by id) over the imported log: median of
   --repeat reads with the index on id, and after dropping it (the schema before migration 3).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_drift import fill_log, measured, trained_home

from churnops import logstore
from churnops.database import home_import, logtable
from churnops.database.connection import connect
from churnops.database.home_import import TableImported
from churnops.database.migrations import upgrade
from churnops.database.url import DatabaseUrl
from churnops.schema import DEFAULT_SCHEMA

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from postgres_support import Cluster, running_cluster  # noqa: E402  (the tests' cluster helper)

CHUNK_ROWS = 20_000


def fresh_database(cluster: Cluster) -> DatabaseUrl:
    url = DatabaseUrl(cluster.create_database())
    upgrade(url)
    return url


def bare_copy(path: Path, url: DatabaseUrl) -> float:
    """Seconds to read every log row from the file and COPY it into the database's log."""
    started = time.perf_counter()
    names = logstore.columns(DEFAULT_SCHEMA)
    types = [logtable.pg_types(DEFAULT_SCHEMA)[name] for name in names]
    source = logstore.open_read_only(path)
    with connect(url, autocommit=True) as conn:
        logtable.ensure_columns(conn, DEFAULT_SCHEMA)
        days = {
            int(d)
            for (d,) in source.execute(
                "SELECT DISTINCT CAST(ts / 86400 AS INTEGER) FROM inference_log"
            )
        }
        logtable.ensure_partitions(conn, days)
        shown = ", ".join(map(logstore.quoted, names))
        cur = source.execute(f"SELECT {shown} FROM inference_log ORDER BY id")
        while rows := cur.fetchmany(CHUNK_ROWS):
            logtable.insert(conn, rows, names, types)
    source.close()
    return time.perf_counter() - started


def cli_import(home: Path, url: DatabaseUrl) -> tuple[float, str]:
    command = [sys.executable, "-m", "churnops", "db", "import", "--from", str(home), "--json"]
    wall, _, done = measured(["env", f"CHURNOPS_DATABASE_URL={url.value}", *command])
    if done.returncode != 0:
        raise SystemExit(f"churnops db import failed: {done.stderr}")
    return wall, done.stdout


def in_process(path: Path, url: DatabaseUrl) -> tuple[float, list[TableImported]]:
    started = time.perf_counter()
    done = home_import.import_log(home_import.plan(path, url), url)
    return time.perf_counter() - started, done


def last_reads(url: DatabaseUrl, repeat: int) -> float:
    """Median seconds of ``repeat`` reads of the newest 1,000 rows (drift's columns)."""
    walls = []
    for _ in range(repeat):
        started = time.perf_counter()
        newest = logstore.read(url, last=1_000)
        walls.append(time.perf_counter() - started)
        assert len(newest) == 1_000
    return statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = args.rows
    with tempfile.TemporaryDirectory() as tmp, running_cluster() as cluster:
        settings = trained_home(Path(tmp))
        print(f"logging {rows:,} scored rows to {settings.inference_db}…", flush=True)
        fill_log(settings, rows, "none")
        baseline = bare_copy(settings.inference_db, fresh_database(cluster))
        print(f"baseline, bare read + binary COPY: {baseline:.1f} s, {rows / baseline:,.0f} rows/s")

        walls = []
        for _ in range(args.repeat):
            url = fresh_database(cluster)
            wall, done = in_process(settings.inference_db, url)
            assert done[0].copied == rows, done
            walls.append(wall)
        median = statistics.median(walls)
        print(
            f"import, checked and verified ({args.repeat} runs): median {median:.1f} s, best "
            f"{min(walls):.1f} s — {rows / median:,.0f} rows/s, {baseline / median:.2f} of the "
            "bare COPY's rate"
        )
        again, done = in_process(settings.inference_db, url)
        assert done[0].copied == 0, done
        print(f"the same import again (nothing copied, all checked): {again:.1f} s")

        whole, _ = cli_import(settings.home, fresh_database(cluster))
        print(f"churnops db import, fresh process (start-up and registry included): {whole:.1f} s")

        indexed = last_reads(url, args.repeat)
        with connect(url, autocommit=True) as conn:
            conn.execute("DROP INDEX inference_log_id")
        scanned = last_reads(url, args.repeat)
        print(
            f"--last 1000 over {rows:,} rows: {indexed * 1000:.0f} ms with the index on id, "
            f"{scanned * 1000:.0f} ms without (median of {args.repeat})"
        )


if __name__ == "__main__":
    main()
