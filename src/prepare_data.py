"""Seed step 4: `python src/prepare_data.py` — same as `churnops prepare`."""

from churnops.cli import main

if __name__ == "__main__":
    main("prepare")
