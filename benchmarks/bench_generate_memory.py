"""Peak memory of `generate` per row, against the estimate it refuses large --rows with.

Each size runs in a fresh process that generates the rows and writes the CSV, as
`churnops generate` does; its peak RSS less the peak of a 1,000-row run, per extra row, is the
per-row cost. The estimate (``BYTES_PER_ROW``) must stay at or above every measured slope.

    python benchmarks/bench_generate_memory.py [--rows 200000 800000 1600000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from churnops.data.generate import BYTES_PER_ROW

PROBE = r"""
import resource, sys, tempfile
from pathlib import Path
from churnops.data.generate import generate, write_csv
generated = generate(int(sys.argv[1]), 42)
with tempfile.TemporaryDirectory() as folder:
    write_csv(generated.table, Path(folder) / "raw.csv")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # Linux reports KiB
"""
BASE_ROWS = 1_000


def peak_bytes(rows: int) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(rows)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 800_000, 1_600_000])
    args = parser.parse_args()
    base = peak_bytes(BASE_ROWS)
    print(f"peak RSS at {BASE_ROWS:,} rows: {base / 2**20:,.0f} MiB (imports and fixed cost)")
    worst = 0.0
    for rows in args.rows:
        peak = peak_bytes(rows)
        slope = (peak - base) / (rows - BASE_ROWS)
        worst = max(worst, slope)
        print(f"{rows:>10,} rows: peak {peak / 2**20:7,.0f} MiB, {slope:5.0f} bytes/row")
    verdict = "covers" if worst <= BYTES_PER_ROW else "UNDERESTIMATES"
    print(f"estimate BYTES_PER_ROW = {BYTES_PER_ROW}: {verdict} the largest slope ({worst:.0f})")


if __name__ == "__main__":
    main()
