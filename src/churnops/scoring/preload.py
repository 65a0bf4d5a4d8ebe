"""Imported by the fork server the scoring workers are forked from (``workers``), not by the
command: it imports the worker's code and reads one customer by ``prepare``'s rules, so what a
process does on its first read is done once, before the workers are forked, rather than in each.

That first read costs about a second: pandera registers its backends on a process's first
validation, importing its check and data-generation modules (and, where installed, Hypothesis
and PySpark's pandas API, which it probes for whether or not they are used).
"""

from __future__ import annotations

import pandas as pd

import churnops.scoring.run  # noqa: F401  (the worker's functions)
from churnops.data.prepare import prepare_frame
from churnops.schema import DEFAULT_SCHEMA, SEED_EXAMPLE

prepare_frame(
    pd.DataFrame(
        [{DEFAULT_SCHEMA.id_column: "warm-up"} | {k: str(v) for k, v in SEED_EXAMPLE.items()}]
    ),
    DEFAULT_SCHEMA,
    labelled=False,
)
