"""Seed step 4: `python src/prepare_data.py` — same as `churnops prepare`."""

from churnops.entry import main

if __name__ == "__main__":
    main("prepare")
