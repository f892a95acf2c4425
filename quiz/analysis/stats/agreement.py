"""How far participants agree with each other on the images they judged.

Fleiss' κ (statsmodels) when every participant rated the same images once each; Krippendorff's
α, nominal (`krippendorff`) otherwise. Its CI resamples images (the rated units),
`agreement_resamples` times (1,000), not participants: a participant drawn twice agrees with
themselves, which inflates agreement by about one over the ratings per image.
"""

from __future__ import annotations

import math

import krippendorff
import numpy as np
from statsmodels.stats.inter_rater import fleiss_kappa

from quiz.analysis.stats.rows import Trials

AGREEMENT_RESAMPLES = 1_000


def agreement(data: Trials, resamples: int, rng: np.random.Generator) -> dict:
    """Fleiss' κ when everyone rated the same images once, else Krippendorff's α (nominal)."""
    images = len(data.images)
    cells = np.bincount(
        data.participant * images + data.image, minlength=len(data.participants) * images
    )
    same_images = bool(data.n) and bool((cells == 1).all())
    said_synthetic = np.bincount(data.image, weights=data.said_synthetic, minlength=images)
    table = np.column_stack(
        [np.bincount(data.image, minlength=images) - said_synthetic, said_synthetic]
    )
    result = {
        "method": "fleiss_kappa" if same_images else "krippendorff_alpha",
        "estimate": None,
        "ci95": None,
        "raters": len(data.participants),
        "units": images,
        "n_resamples": resamples,
        "reason": None,
    }
    if len(data.participants) < 2 or not (table.sum(axis=1) >= 2).any():
        result["reason"] = "agreement needs images rated by at least two participants"
        return result
    if (table.sum(axis=0) == 0).any():
        result["reason"] = "every answer was the same: agreement is undefined"
        return result
    table = table[table.sum(axis=1) >= 2]

    def statistic(counts: np.ndarray) -> float:
        if (counts.sum(axis=0) == 0).any():
            return math.nan
        if same_images:
            return float(fleiss_kappa(counts, method="fleiss"))
        return float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))

    result["estimate"] = statistic(table)
    if len(table) >= 2 and resamples:
        draws = rng.multinomial(len(table), np.full(len(table), 1 / len(table)), resamples)
        resampled = np.array([statistic(np.repeat(table, w, axis=0)) for w in draws])
        resampled = resampled[np.isfinite(resampled)]
        if resampled.size:
            result["ci95"] = [float(x) for x in np.percentile(resampled, [2.5, 97.5])]
    return result
