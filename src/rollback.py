"""Seed step 9: `python src/rollback.py` — same as `churnops rollback` (add --list or --to vN)."""

import sys

from churnops.cli import main

if __name__ == "__main__":
    sys.argv[1:1] = ["rollback"]
    main()
