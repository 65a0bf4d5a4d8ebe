"""Seed step 8: `python src/monitor_drift.py` — same as `churnops drift`."""

import sys

from churnops.cli import main

if __name__ == "__main__":
    sys.argv[1:1] = ["drift"]
    main()
