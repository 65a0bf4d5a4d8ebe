"""Seed step 9: `python src/rollback.py` — same as `churnops rollback` (add --list or --to vN)."""

from churnops.entry import main

if __name__ == "__main__":
    main("rollback")
