"""The significance level, and the interval and the test that the parts of the report share.

The Wilson interval on pooled trials is the naive interval (trials treated as independent),
shown beside the participant bootstrap's. The one-sample t-test over participants is the test
against chance (quiz.analysis.stats.headline says why a t-test rather than Wilcoxon).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

ALPHA = 0.05


def wilson(successes: float, trials: float) -> list[float] | None:
    """The Wilson 95% interval of successes / trials; None without trials."""
    if not trials:
        return None
    low, high = proportion_confint(successes, trials, method="wilson")
    return [float(low), float(high)]


def ttest(values: np.ndarray, null: float, alternative: str = "two-sided") -> float | None:
    """The one-sample t-test's p-value; None with fewer than two values or no spread."""
    if values.size < 2 or np.ptp(values) == 0:
        return None
    return float(stats.ttest_1samp(values, null, alternative=alternative).pvalue)
