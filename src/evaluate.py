"""`python src/evaluate.py` — same as `churnops evaluate`."""

from churnops.cli import main

if __name__ == "__main__":
    main("evaluate")
