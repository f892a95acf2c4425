"""Whether accuracy is at chance, and how many participants it takes to tell.

* **Equivalence**: TOST, two one-sided t-tests of the mean of participants' accuracies against
  `chance ± margin`, on the logit scale: θ = logit(mean accuracy), its standard error by the
  delta method, se(θ) = SEM / (mean · (1 − mean)), t with n − 1 df. The 90% CI is
  expit(θ ± t₀.₉₅ · se(θ)): the estimand stays the mean accuracy of the headline, and the
  interval stays inside (0, 1) however few and spread the participants (on the accuracy scale a
  t-interval of 4 participants reached 109%). The test and the interval are one: both one-sided
  tests reject at α = 0.05 exactly when the 90% CI lies inside the bounds. Verdict: "equivalent
  to chance" then (any difference is smaller than the study called negligible); otherwise
  "different from chance" when the two-sided t-test of the headline (accuracy scale) rejects at
  α = 0.05; otherwise "inconclusive".
* **Power**: participants needed for a two-sided one-sample t-test (α = 0.05, 80% power) to
  detect a mean accuracy of 55% and 60% against `chance`, with the observed between-participant
  SD (which holds the within-participant binomial noise of this study's session length),
  statsmodels `TTestPower`; beside it the current n and its power.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import special, stats
from statsmodels.stats.power import TTestPower

from quiz.analysis.stats.inference import ALPHA, ttest

POWER_TARGETS = (0.55, 0.60)
POWER = 0.8


def equivalence(accuracy: np.ndarray, chance: float, margin: float) -> dict:
    values = accuracy[~np.isnan(accuracy)]
    low, high = chance - margin, chance + margin
    mean = float(values.mean()) if values.size else None
    result = {
        "bounds": [low, high],
        "participants": int(values.size),
        "estimate": mean,
        "ci90": None,
        "scale": "logit of the mean accuracy (delta-method standard error, t with n - 1 df)",
        "p_lower": None,
        "p_upper": None,
        "p_equivalence": None,
        "p_different": ttest(values, chance),
        "verdict": "inconclusive",
        "rule": (
            f"equivalent to chance if both one-sided tests reject at {ALPHA} (90% CI inside the "
            f"bounds); else different from chance if the two-sided t-test rejects at {ALPHA}; "
            "else inconclusive"
        ),
    }
    if values.size < 2 or np.ptp(values) == 0:
        # No spread: the mean is not 0 or 1 only if everyone scored the same, and then the
        # standard error is 0 and no t-test is defined.
        result["reason"] = "fewer than two participants, or no spread between them"
        return result
    theta = special.logit(mean)
    se = stats.sem(values) / (mean * (1 - mean))
    df = values.size - 1
    result["p_lower"] = float(stats.t.sf((theta - special.logit(low)) / se, df))
    result["p_upper"] = float(stats.t.cdf((theta - special.logit(high)) / se, df))
    result["p_equivalence"] = max(result["p_lower"], result["p_upper"])
    half = stats.t.ppf(1 - ALPHA, df) * se
    result["ci90"] = [float(special.expit(theta - half)), float(special.expit(theta + half))]
    if result["p_equivalence"] < ALPHA:
        result["verdict"] = "equivalent to chance"
    elif result["p_different"] is not None and result["p_different"] < ALPHA:
        result["verdict"] = "different from chance"
    return result


def power(accuracy: np.ndarray, chance: float) -> dict:
    values = accuracy[~np.isnan(accuracy)]
    spread = float(values.std(ddof=1)) if values.size >= 2 else None
    targets = []
    for target in POWER_TARGETS:
        row = {"accuracy": target, "participants_needed": None, "power_at_current_n": None}
        if spread and target != chance:
            effect = abs(target - chance) / spread
            analysis = TTestPower()
            with warnings.catch_warnings():
                # The root finder gives up (NaN) when two participants already have the power.
                warnings.simplefilter("ignore")
                needed = analysis.solve_power(effect_size=effect, alpha=ALPHA, power=POWER)
            if np.isfinite(needed):
                row["participants_needed"] = max(2, math.ceil(float(needed)))
            elif analysis.power(effect_size=effect, nobs=2, alpha=ALPHA) >= POWER:
                row["participants_needed"] = 2
            row["power_at_current_n"] = float(
                analysis.power(effect_size=effect, nobs=values.size, alpha=ALPHA)
            )
        targets.append(row)
    return {
        "participants": int(values.size),
        "between_participant_sd": spread,
        "alpha": ALPHA,
        "power": POWER,
        "targets": targets,
    }
