"""Each image's results, and the synthetic images that fool participants more often than not.

The share of trials judged real (synthetic images: the fooling rate) or judged synthetic (real
images), Wilson CI, exact binomial test against ½, Benjamini–Hochberg over all images.
"Hardest fakes" are synthetic images judged real more often than ½ at q < 0.05; when none is,
the report says that no image stands out.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from quiz.analysis.stats.inference import ALPHA
from quiz.analysis.stats.rows import REAL, SYNTHETIC, Trials


def per_image(data: Trials) -> dict:
    count = len(data.images)
    shown = np.bincount(data.image, minlength=count)
    synthetic = np.bincount(data.image, weights=data.synthetic, minlength=count) > 0
    judged_real = np.bincount(data.image, weights=~data.said_synthetic, minlength=count)
    # Synthetic images: the share judged real (fooling); real images: the share judged synthetic.
    judged_wrong = np.where(synthetic, judged_real, shown - judged_real).astype(int)
    # The exact two-sided binomial test at ½ (scipy's binomtest), vectorised: the distribution
    # is symmetric, so the p-value is twice the smaller tail.
    p_values = np.minimum(
        1.0, 2 * stats.binom.cdf(np.minimum(judged_wrong, shown - judged_wrong), shown, 0.5)
    )
    q_values = multipletests(p_values, method="fdr_bh")[1] if count else p_values
    first = np.full(count, -1)
    first[data.image[::-1]] = np.arange(data.n)[::-1]
    low, high = proportion_confint(judged_wrong, np.maximum(shown, 1), method="wilson")
    rows = []
    for i, image in enumerate(data.images):
        checkpoint = data.checkpoint[first[i]]
        generator, step = data.checkpoints[checkpoint] if checkpoint >= 0 else (None, None)
        run = data.generator_runs[data.generator[first[i]]] if checkpoint >= 0 else None
        rows.append(
            {
                "image": image,
                "true_label": SYNTHETIC if synthetic[i] else REAL,
                "generator": generator,
                "training_run": run,
                "checkpoint_step": step,
                "trials": int(shown[i]),
                "measure": "fooling_rate" if synthetic[i] else "judged_synthetic_rate",
                "rate": judged_wrong[i] / shown[i],
                "ci95": [low[i], high[i]],
                "p": p_values[i],
                "q": q_values[i],
            }
        )
    rows.sort(key=lambda row: (row["true_label"] != SYNTHETIC, -row["rate"], -row["trials"]))
    hardest = [
        row
        for row in rows
        if row["true_label"] == SYNTHETIC and row["q"] < ALPHA and row["rate"] > 0.5
    ]
    return {
        "images": rows,
        "hardest_fakes": hardest,
        "note": (
            None
            if hardest
            else f"No image stands out: no synthetic image is judged real more often than 50% "
            f"at q < {ALPHA} (Benjamini-Hochberg over {count} images)."
        ),
    }
