"""Default parameters of the realised-performance and experiment statistics, in one place.

Every function takes these as explicit arguments; these are only the values used when a caller
passes none.
"""

from __future__ import annotations

DEFAULT_ALPHA = 0.05  # error rate of every verdict and interval (two-sided)
DEFAULT_LEVEL = 1 - DEFAULT_ALPHA  # confidence level of fixed-sample intervals
# fewer outcomes of either class than this: "not enough outcomes yet" (per arm in experiments);
# the DeLong normal approximation is checked down to this size in benchmarks/bench_statistics.py
DEFAULT_MIN_PER_CLASS = 50
# standard deviation of the normal mixture over AUC differences in the always-valid test: the
# size of difference the test is most sensitive to (see churnops.statistics.sequential)
DEFAULT_MIXTURE_SCALE = 0.02
DEFAULT_POWER = 0.80  # power of the "smallest detectable difference" shown with no verdict
