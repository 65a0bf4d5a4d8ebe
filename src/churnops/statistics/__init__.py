"""Statistics of realised performance and experiments: AUC intervals (DeLong), paired and
unpaired AUC differences, the always-valid verdict rule, and threshold metrics.

Every estimator returns ``NotEnoughOutcomes`` instead of a number when either class has too
few outcomes. See each module's docstring for the method and its references.
"""

from churnops.statistics.delong import (
    AucDifference,
    AucEstimate,
    auc_interval,
    paired_auc_difference,
    unpaired_auc_difference,
)
from churnops.statistics.experiment import Comparison, compare_ab, compare_shadow
from churnops.statistics.outcomes import NotEnoughOutcomes
from churnops.statistics.performance import (
    RealisedPerformance,
    ThresholdMetrics,
    realised_performance,
    threshold_metrics,
)
from churnops.statistics.sequential import Verdict, VerdictLabel, VerdictRule, verdict

__all__ = [
    "AucDifference",
    "AucEstimate",
    "Comparison",
    "NotEnoughOutcomes",
    "RealisedPerformance",
    "ThresholdMetrics",
    "Verdict",
    "VerdictLabel",
    "VerdictRule",
    "auc_interval",
    "compare_ab",
    "compare_shadow",
    "paired_auc_difference",
    "realised_performance",
    "threshold_metrics",
    "unpaired_auc_difference",
    "verdict",
]
