"""How answers change over a session: by panel letter, by round, and with response time.

* **Position**: "real" answers and accuracy by panel letter, χ² tests of independence (trials
  treated as independent).
* **Learning**: accuracy by round with Wilson CIs, and the slope over round of a GEE logistic
  model with participant clusters.
* **Response times**: quantiles and a histogram, pooled medians of correct and wrong answers,
  and a Wilcoxon signed-rank test over participants of their median(correct) − median(wrong).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from quiz.analysis.stats.inference import wilson
from quiz.analysis.stats.regression import Failure, coefficient, gee
from quiz.analysis.stats.rows import Trials

_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_HISTOGRAM_BINS = 20


def position(data: Trials) -> dict:
    rows = []
    said_real = np.bincount(data.letter, weights=~data.said_synthetic, minlength=len(data.letters))
    correct = np.bincount(data.letter, weights=data.correct, minlength=len(data.letters))
    real_shown = np.bincount(data.letter, weights=~data.synthetic, minlength=len(data.letters))
    shown = np.bincount(data.letter, minlength=len(data.letters))
    for i, letter in enumerate(data.letters):
        rows.append(
            {
                "letter": letter,
                "trials": int(shown[i]),
                "real_shown": real_shown[i] / shown[i],
                "real_answers": said_real[i] / shown[i],
                "real_answers_ci95": wilson(said_real[i], shown[i]),
                "accuracy": correct[i] / shown[i],
                "accuracy_ci95": wilson(correct[i], shown[i]),
            }
        )
    return {
        "letters": rows,
        "real_answers_test": _chi2(np.column_stack([said_real, shown - said_real])),
        "accuracy_test": _chi2(np.column_stack([correct, shown - correct])),
    }


def _chi2(table: np.ndarray) -> dict | None:
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return None
    result = stats.chi2_contingency(table)
    return {"chi2": result.statistic, "dof": int(result.dof), "p": result.pvalue}


def learning(data: Trials) -> dict:
    rounds = []
    for value in np.unique(data.round):
        mask = data.round == value
        correct = float(data.correct[mask].sum())
        rounds.append(
            {
                "round": int(value),
                "trials": int(mask.sum()),
                "participants": int(np.unique(data.participant[mask]).size),
                "accuracy": correct / mask.sum(),
                "ci95": wilson(correct, mask.sum()),
            }
        )
    trend = None
    reason = None
    if len(rounds) < 2:
        reason = "fewer than two rounds"
    else:
        exog = np.column_stack([np.ones(data.n), data.round - data.round.mean()])
        fit = gee(data.correct, exog, data.participant, ["intercept", "round"])
        if isinstance(fit, Failure):
            reason = str(fit)
        else:
            trend = coefficient(fit, 1, "round", "per round", None)
    return {"rounds": rounds, "trend": trend, "trend_reason": reason}


def response_times(data: Trials) -> dict:
    known = np.isfinite(data.response_ms) & (data.response_ms >= 0)
    times = data.response_ms[known]
    result = {
        "trials": int(times.size),
        "quantiles": None,
        "histogram": None,
        "median_correct_ms": None,
        "median_wrong_ms": None,
        "paired": None,
    }
    if not times.size:
        return result
    result["quantiles"] = {
        f"q{round(q * 100):02d}": float(np.quantile(times, q)) for q in _QUANTILES
    }
    counts, edges = np.histogram(times, bins=_HISTOGRAM_BINS, range=(0, np.quantile(times, 0.99)))
    result["histogram"] = {
        "edges_ms": edges,
        "counts": counts,
        "above": int((times > edges[-1]).sum()),
    }
    correct = data.correct[known]
    if correct.any():
        result["median_correct_ms"] = float(np.median(times[correct]))
    if (~correct).any():
        result["median_wrong_ms"] = float(np.median(times[~correct]))
    medians = _group_medians(
        times, data.participant[known] * 2 + correct, 2 * len(data.participants)
    )
    medians = medians.reshape(-1, 2)  # (participants, [wrong, correct])
    differences = medians[:, 1] - medians[:, 0]
    differences = differences[~np.isnan(differences)]
    paired = {
        "participants": int(differences.size),
        "median_difference_ms": float(np.median(differences)) if differences.size else None,
        "p": None,
        "test": "Wilcoxon signed-rank over participants of median(correct) - median(wrong)",
    }
    if np.count_nonzero(differences) >= 2:
        paired["p"] = float(stats.wilcoxon(differences).pvalue)
    result["paired"] = paired
    return result


def _group_medians(values: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """The median of `values` within each group 0..groups-1; NaN for an empty group."""
    order = np.lexsort((values, group))
    values, group = values[order], group[order]
    counts = np.bincount(group, minlength=groups)
    starts = np.cumsum(counts) - counts
    low = starts + np.maximum(counts - 1, 0) // 2
    high = starts + counts // 2
    medians = np.full(groups, np.nan)
    filled = counts > 0
    medians[filled] = (values[low[filled]] + values[np.minimum(high, len(values) - 1)[filled]]) / 2
    return medians
