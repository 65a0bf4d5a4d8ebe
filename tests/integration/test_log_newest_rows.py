"""`--last N` on the PostgreSQL log: the newest rows, read through the index on id."""

from __future__ import annotations

import psycopg
from log_backends import LogBackend

from churnops import logstore
from churnops.database import logtable
from churnops.database.url import DatabaseUrl

DAY = 86_400.0
FEATURES = (12, 65.5, 786.0, "Month-to-month", "Electronic check")


def test_the_newest_rows_are_read_without_scanning_the_log(database: DatabaseUrl) -> None:
    """Rows over three days (three partitions): ``last=2`` gives the two logged last, and the
    query it runs walks the id index of each partition — with sequential scans priced out, no
    partition is scanned (before the index, the only plan was a scan of every partition)."""
    names = logstore.prediction_columns()
    rows = [(DAY * (1 + i // 4) + i, f"r{i}", "C1", 1, *FEATURES, 0.5, 1, 1.0) for i in range(12)]
    LogBackend("postgres", database).append(rows, names)
    newest = logstore.read(database, last=2)
    assert newest["request_id"].tolist() == ["r10", "r11"]
    query, params = logtable.read_query(["request_id"], None, None, 2)
    with psycopg.connect(database.value) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(row[0] for row in conn.execute(b"EXPLAIN " + query.as_bytes(conn), params))
    assert "Seq Scan" not in plan and "Index Scan Backward" in plan, plan
