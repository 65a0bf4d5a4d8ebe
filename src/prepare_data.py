"""Seed step 4: `python src/prepare_data.py` — same as `churnops prepare`."""

import sys

from churnops.cli import main

if __name__ == "__main__":
    sys.argv[1:1] = ["prepare"]
    main()
