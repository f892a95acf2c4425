"""Whether accuracy is at chance, and how many participants it takes to tell.

* **Equivalence**: TOST, two one-sided t-tests of participants' accuracies against
  `chance ± margin`. Verdict: "equivalent to chance" when both reject at α = 0.05 (the 90% CI
  lies inside the margin: any difference is smaller than the study called negligible);
  otherwise "different from chance" when the two-sided t-test rejects at α = 0.05; otherwise
  "inconclusive".
* **Power**: participants needed for a two-sided one-sample t-test (α = 0.05, 80% power) to
  detect a mean accuracy of 55% and 60% against `chance`, with the observed between-participant
  SD (which holds the within-participant binomial noise of this study's session length),
  statsmodels `TTestPower`; beside it the current n and its power.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats
from statsmodels.stats.power import TTestPower

from quiz.analysis.stats.inference import ALPHA, ttest

POWER_TARGETS = (0.55, 0.60)
POWER = 0.8


def equivalence(accuracy: np.ndarray, chance: float, margin: float) -> dict:
    values = accuracy[~np.isnan(accuracy)]
    low, high = chance - margin, chance + margin
    p_lower = ttest(values, low, "greater")
    p_upper = ttest(values, high, "less")
    p_different = ttest(values, chance)
    result = {
        "bounds": [low, high],
        "participants": int(values.size),
        "estimate": float(values.mean()) if values.size else None,
        "ci90": None,
        "p_lower": p_lower,
        "p_upper": p_upper,
        "p_equivalence": None,
        "p_different": p_different,
        "verdict": "inconclusive",
        "rule": (
            f"equivalent to chance if both one-sided tests reject at {ALPHA} (90% CI inside the "
            f"bounds); else different from chance if the two-sided t-test rejects at {ALPHA}; "
            "else inconclusive"
        ),
    }
    if p_lower is None or p_upper is None:
        result["reason"] = "fewer than two participants, or no spread between them"
        return result
    result["p_equivalence"] = max(p_lower, p_upper)
    sem = stats.sem(values)
    half = stats.t.ppf(1 - ALPHA, values.size - 1) * sem
    result["ci90"] = [values.mean() - half, values.mean() + half]
    if result["p_equivalence"] < ALPHA:
        result["verdict"] = "equivalent to chance"
    elif p_different < ALPHA:
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
