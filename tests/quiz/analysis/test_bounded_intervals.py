"""No interval of the report leaves its parameter's range (the issue's "42.0 % to 109.3 %")."""

import re

import numpy as np
import pytest
from scipy import stats

from quiz.analysis.stats import report
from quiz.analysis.stats.rows import TrialRow

# Four participants of 10 trials each, two of them perfect: the case the issue met.
CORRECT = [4, 6, 10, 10]


def _rows(correct: list[int], trials: int = 10) -> list[TrialRow]:
    rows = []
    for p, right in enumerate(correct):
        for k in range(trials):
            label = "real" if k % 2 else "synthetic"
            other = "synthetic" if label == "real" else "real"
            rows.append(
                TrialRow(
                    p,
                    (p % 2, k),  # two participants share each image: agreement is defined
                    label,
                    label if k < right else other,
                    expertise="ab"[p % 2],
                    training_run="run",
                    checkpoint_step=1,
                    round=1 + k // 5,
                    letter="ABCDE"[k % 5],
                    response_ms=500 + k,
                )
            )
    return rows


def test_the_equivalence_interval_of_four_participants_stays_inside_zero_to_one():
    accuracy = np.array(CORRECT) / 10
    # What the accuracy-scale t-interval gave: past 100 %.
    half = stats.t.ppf(0.95, 3) * stats.sem(accuracy)
    assert accuracy.mean() + half > 1
    equivalence = report(_rows(CORRECT), model="none", n_resamples=500)["equivalence"]
    low, high = equivalence["ci90"]
    assert equivalence["estimate"] == pytest.approx(0.75)
    assert 0 < low < 0.75 < high < 1
    assert equivalence["verdict"] == "inconclusive"


def _intervals(value: object, path: tuple = ()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _intervals(item, (*path, str(key)))
    elif isinstance(value, list):
        if path and re.search(r"ci\d\d$", path[-1]) and len(value) == 2:
            yield "/".join(path), value
        else:
            for index, item in enumerate(value):
                yield from _intervals(item, (*path, str(index)))


def _range(path: str) -> tuple[float, float]:
    if re.search(r"dprime|criterion|trend/ci95|coefficients/\d+/ci95", path):
        return -np.inf, np.inf  # d', c, log-odds: any real number
    if "odds_ratio" in path:
        return 0.0, np.inf
    if path.startswith("agreement"):
        return -1.0, 1.0
    return 0.0, 1.0  # every other interval is of a proportion


@pytest.mark.parametrize("correct", [CORRECT, [0, 10, 10, 10], [1, 2, 9, 10], [5, 5, 6, 4]])
def test_every_interval_of_the_report_lies_in_its_parameters_range(correct):
    result = report(_rows(correct), n_resamples=500, agreement_resamples=200)
    found = list(_intervals(result))
    assert any(path == "equivalence/ci90" for path, _ in found) or np.ptp(correct) == 0
    assert len(found) > 20
    for path, (low, high) in found:
        if low is None or high is None:
            continue
        lowest, highest = _range(path)
        assert lowest <= low <= high <= highest, f"{path}: [{low}, {high}]"
