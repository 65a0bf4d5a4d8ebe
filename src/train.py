"""Seed step 5: `python src/train.py` — same as `churnops train`."""

import sys

from churnops.cli import main

if __name__ == "__main__":
    sys.argv[1:1] = ["train"]
    main()
