"""HYPE-time (Zhou et al. 2019) from adaptive-exposure trials, and the side bias of 2AFC.

* **HYPE-time.** Each participant ran one staircase per generator (quiz.studies.staircase: a
  ladder from 100 to 1000 ms, 3-down/1-up). A staircase's *threshold* is its modal exposure, the
  exposure it presented most often (HYPE: "the modal exposure measures their perceptual
  threshold"); where several exposures tie, their mean. A generator's HYPE-time is the mean of
  the participants' thresholds on its staircase, with the participant bootstrap's percentile CI
  (quiz.analysis.stats.headline, the same resampling as every other figure); `overall` is the
  mean over participants of each participant's mean threshold across their staircases. A
  higher HYPE-time means people need longer looks before they tell the generator's images from
  real ones: the better generator. Each staircase also reports its reversals (a change of
  direction of the exposure sequence), the count a reader checks for convergence: a staircase
  with few reversals has not settled, and its threshold is closer to where it started (1000 ms).
* **Side bias** (2AFC only): the share of pairs where the participant chose the left image,
  pooled, with an exact binomial test against ½, and the proportion correct when the synthetic
  image was on the left and on the right. The design balances the sides, so a bias lowers no
  figure, but a strong one says participants guessed.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

from quiz.analysis.stats.headline import participant_bootstrap
from quiz.analysis.stats.rows import Trials

HYPE_TIME_RULE = (
    "HYPE-time (Zhou et al. 2019): per participant and generator, a 3-down/1-up staircase on "
    "exposures from 100 to 1000 ms (10 log-spaced steps, starting at 1000 ms); a staircase's "
    "threshold is its modal exposure (ties: their mean); a generator's HYPE-time is the mean "
    "threshold over participants with a participant bootstrap 95% CI; higher means the "
    "generator's images need longer looks to be told from real ones"
)


def threshold(exposures: np.ndarray) -> float:
    """The modal exposure; the mean of the tied modes where several tie."""
    values, counts = np.unique(exposures, return_counts=True)
    return float(values[counts == counts.max()].mean())


def reversals(exposures: np.ndarray) -> int:
    """Changes of direction in a staircase's sequence of exposures (stays are not steps)."""
    steps = np.sign(np.diff(exposures))
    steps = steps[steps != 0]
    return int(np.count_nonzero(steps[1:] != steps[:-1]))


def hype_time(data: Trials, n_resamples: int, seed: np.random.SeedSequence) -> dict | None:
    """The HYPE-time block, or None when no trial belongs to a staircase."""
    if data.staircase is None or not data.staircases or not (data.staircase >= 0).any():
        return None
    count, names = len(data.participants), data.staircases
    thresholds = np.full((count, len(names)), np.nan)
    per_participant = []
    for p in range(count):
        for s, name in enumerate(names):
            on = np.flatnonzero((data.participant == p) & (data.staircase == s))
            exposures = data.exposure_limit[on[np.argsort(data.round[on], kind="stable")]]
            exposures = exposures[~np.isnan(exposures)]
            if not exposures.size:
                continue
            thresholds[p, s] = threshold(exposures)
            per_participant.append(
                {
                    "participant": data.participants[p],
                    "generator": name,
                    "trials": int(exposures.size),
                    "threshold_ms": thresholds[p, s],
                    "reversals": reversals(exposures),
                    "last_exposure_ms": float(exposures[-1]),
                }
            )
    with np.errstate(invalid="ignore"):
        overall = np.nanmean(thresholds, axis=1)  # NaN (with a warning) for none at all
    columns = np.column_stack([thresholds, overall])
    resampled = participant_bootstrap(columns, n_resamples, np.random.default_rng(seed))
    return {
        "rule": HYPE_TIME_RULE,
        "overall": _estimate(overall, resampled[:, -1]),
        "by_generator": [
            {
                "generator": name,
                **_estimate(thresholds[:, s], resampled[:, s]),
                "trials": int((data.staircase == s).sum()),
            }
            for s, name in enumerate(names)
        ],
        "per_participant": per_participant,
    }


def _estimate(values: np.ndarray, draws: np.ndarray) -> dict:
    defined = values[~np.isnan(values)]
    draws = draws[~np.isnan(draws)]
    return {
        "estimate_ms": float(defined.mean()) if defined.size else None,
        "ci95_ms": (
            [float(x) for x in np.percentile(draws, [2.5, 97.5])]
            if defined.size >= 2 and draws.size
            else None
        ),
        "participants": int(defined.size),
    }


def side_bias(data: Trials) -> dict | None:
    """2AFC: how often the left image was chosen, and PC by the synthetic image's side."""
    if not data.paired or not data.synthetic_side or not any(data.synthetic_side):
        return None
    side = np.array(data.synthetic_side, dtype=object)
    known = (side == "left") | (side == "right")
    synthetic_left = side == "left"
    # The participant chose the synthetic image (fooled) or the real one beside it.
    chose_left = np.where(synthetic_left, ~data.said_synthetic, data.said_synthetic) & known
    trials = int(known.sum())
    left = int(chose_left.sum())
    correct = data.correct
    return {
        "trials": trials,
        "left_chosen": left / trials if trials else None,
        "p_vs_half": float(binomtest(left, trials, 0.5).pvalue) if trials else None,
        "accuracy_synthetic_left": _share(correct[known & synthetic_left]),
        "accuracy_synthetic_right": _share(correct[known & ~synthetic_left]),
        "synthetic_left": int((known & synthetic_left).sum()),
        "synthetic_right": int((known & ~synthetic_left).sum()),
    }


def _share(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None
