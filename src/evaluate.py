"""`python src/evaluate.py` — same as `churnops evaluate`."""

import sys

from churnops.cli import main

if __name__ == "__main__":
    sys.argv[1:1] = ["evaluate"]
    main()
