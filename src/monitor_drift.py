"""Seed step 8: `python src/monitor_drift.py` — same as `churnops drift`."""

from churnops.entry import main

if __name__ == "__main__":
    main("drift")
