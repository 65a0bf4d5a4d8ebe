"""Seed step 5: `python src/train.py` — same as `churnops train`."""

from churnops.entry import main

if __name__ == "__main__":
    main("train")
