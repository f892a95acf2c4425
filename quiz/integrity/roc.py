"""ROC AUC and its bootstrap interval, shared by the two audits at publish: the leak audit (what
a browser receives besides pixels) and the cue audit (low-level statistics of the pixels)."""

from __future__ import annotations

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
# Bootstrap resamples are drawn from it: one set of scores gives one interval.
SEED = 0


def auc(y: np.ndarray, scores: np.ndarray) -> float:
    """Mann–Whitney AUC of scores for y (1 = positive; ties count half)."""
    return float(auc_rows(y[None, :], scores[None, :])[0])


def auc_rows(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Mann–Whitney AUC of each row (ties count half)."""
    from scipy.stats import rankdata  # scipy: loaded by the auditing process only

    ranks = rankdata(scores, axis=1)
    positives = y.sum(axis=1)
    negatives = y.shape[1] - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.sum(ranks * y, axis=1) - positives * (positives + 1) / 2) / (
            positives * negatives
        )


def bootstrap_ci(y: np.ndarray, scores: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC (95% unless asked), resampling rows."""
    rng = np.random.default_rng(SEED)
    rows = rng.integers(0, len(y), size=(BOOTSTRAP_RESAMPLES, len(y)))
    aucs = auc_rows(y[rows], scores[rows])
    aucs = aucs[np.isfinite(aucs)]
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(aucs, [tail, 100 - tail])
    return float(low), float(high)
