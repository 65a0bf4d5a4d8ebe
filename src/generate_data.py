"""Seed step 3: `python src/generate_data.py` — same as `churnops generate`."""

from churnops.entry import main

if __name__ == "__main__":
    main("generate")
