"""`python src/evaluate.py` — same as `churnops evaluate`."""

from churnops.entry import main

if __name__ == "__main__":
    main("evaluate")
