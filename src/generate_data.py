"""Seed step 3: `python src/generate_data.py` — same as `churnops generate`."""

import sys

from churnops.cli import main

if __name__ == "__main__":
    sys.argv[1:1] = ["generate"]
    main()
