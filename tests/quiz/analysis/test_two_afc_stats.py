"""2AFC statistics and HYPE-time against hand computations."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from quiz.analysis.stats import report
from quiz.analysis.stats.hype_time import reversals, threshold

# (participant, expertise, [(generator, correct)...]): correct = the real image was chosen.
SESSIONS = {
    "p1": ("novice", [("g1", 1)] * 7 + [("g1", 0)] * 1 + [("g2", 1)] * 4 + [("g2", 0)] * 4),
    "p2": ("novice", [("g1", 1)] * 5 + [("g1", 0)] * 3 + [("g2", 1)] * 2 + [("g2", 0)] * 6),
    "p3": ("expert", [("g1", 1)] * 8 + [("g2", 1)] * 6 + [("g2", 0)] * 2),
}


def _rows():
    rows, image = [], 0
    for participant, (expertise, trials) in SESSIONS.items():
        for k, (generator, correct) in enumerate(trials):
            image += 1
            rows.append(
                {
                    "participant": participant,
                    "expertise": expertise,
                    "image": image,
                    "true_label": "synthetic",
                    # Told from the synthetic image: "synthetic" = the real one was chosen.
                    "answer": "synthetic" if correct else "real",
                    "generator": generator,
                    "layout": "pair",
                    "synthetic_side": "left" if k % 2 else "right",
                    "round": k + 1,
                }
            )
    return rows


def _dprime(correct: int, trials: int) -> float:
    return math.sqrt(2) * scipy_stats.norm.ppf((correct + 0.5) / (trials + 1))


@pytest.fixture(scope="module")
def result():
    return report(_rows(), n_resamples=2000, model="none", agreement_resamples=50)


def test_accuracy_is_the_proportion_correct_and_criterion_free(result):
    pcs = np.array([11 / 16, 7 / 16, 14 / 16])
    assert result["task"] == "2afc"
    assert result["accuracy"]["estimate"] == pytest.approx(pcs.mean())
    assert result["balanced_accuracy"]["estimate"] == pytest.approx(pcs.mean())
    assert result["fooling_rate"]["estimate"] == pytest.approx(1 - pcs.mean())
    assert result["hype_error"]["estimate"] == pytest.approx(1 - pcs.mean())
    assert result["criterion"]["estimate"] is None
    assert result["real_accuracy"]["estimate"] is None
    assert result["accuracy"]["null"] == 0.5
    assert result["accuracy"]["p_vs_chance"] == pytest.approx(
        scipy_stats.ttest_1samp(pcs, 0.5).pvalue
    )
    low, high = result["accuracy"]["ci95"]
    assert low < pcs.mean() < high and low >= 0 and high <= 1


def test_dprime_is_root_two_times_z_of_pc(result):
    dprimes = [_dprime(11, 16), _dprime(7, 16), _dprime(14, 16)]
    assert result["dprime"]["estimate"] == pytest.approx(np.mean(dprimes))
    by_participant = {row["participant"]: row for row in result["per_participant"]}
    assert by_participant["p3"]["dprime"] == pytest.approx(_dprime(14, 16))
    assert by_participant["p3"]["criterion"] is None
    assert "sqrt(2)" in result["dprime_convention"]


def test_per_generator_and_per_expertise(result):
    g1 = {row["generator"]: row for row in result["by_generator"]}["g1"]
    # g1: 7/8, 5/8, 8/8 correct; fooling rate is 1 - PC per participant.
    assert g1["fooling_rate"]["estimate"] == pytest.approx(np.mean([1 / 8, 3 / 8, 0]))
    assert g1["balanced_accuracy"]["estimate"] == pytest.approx(np.mean([7 / 8, 5 / 8, 1]))
    assert g1["dprime"]["estimate"] == pytest.approx(
        np.mean([_dprime(7, 8), _dprime(5, 8), _dprime(8, 8)])
    )
    assert g1["criterion"]["estimate"] is None
    novices = {row["expertise"]: row for row in result["by_expertise"]}["novice"]
    assert novices["accuracy"]["estimate"] == pytest.approx((11 / 16 + 7 / 16) / 2)
    assert novices["dprime"]["estimate"] == pytest.approx((_dprime(11, 16) + _dprime(7, 16)) / 2)


def test_the_side_bias(result):
    sides = result["side_bias"]
    assert sides["trials"] == 48 and sides["synthetic_left"] == 24
    rows = _rows()
    left = sum((row["synthetic_side"] == "left") == (row["answer"] == "real") for row in rows)
    assert sides["left_chosen"] == pytest.approx(left / 48)
    assert sides["p_vs_half"] == pytest.approx(scipy_stats.binomtest(left, 48).pvalue)


def test_pairs_and_yes_no_trials_are_not_analysed_together():
    rows = _rows()
    rows[0] = {**rows[0], "layout": "grid"}
    with pytest.raises(ValueError, match="cannot be analysed together"):
        report(rows, n_resamples=10, model="none")


def test_pair_trials_with_confidence_ratings_are_refused():
    # A pair is a choice between two images: a rating on it is no ROC operating point.
    rows = _rows()
    rows[3]["rating"] = 2
    with pytest.raises(ValueError, match="trial 3: a side-by-side trial .* no confidence rating"):
        report(rows, n_resamples=50, model="none", agreement_resamples=10)


def test_a_staircase_threshold_is_its_modal_exposure():
    assert threshold(np.array([1000, 774, 774, 599, 774, 599])) == 774
    assert threshold(np.array([1000, 774, 774, 599, 599])) == pytest.approx((774 + 599) / 2)
    assert reversals(np.array([1000, 1000, 774, 599, 774, 774, 599, 599])) == 2


def test_hype_time_per_generator_with_a_bootstrap_ci():
    thresholds = {"a": (599, 464), "b": (774, 359), "c": (464, 464), "d": (1000, 599)}
    rows, image = [], 0
    for participant, (first, second) in thresholds.items():
        for generator, modal in (("g1", first), ("g2", second)):
            for k, exposure in enumerate([1000, modal, modal, modal, 774]):
                image += 1
                truth = "synthetic" if k % 2 else "real"
                rows.append(
                    {
                        "participant": participant,
                        "image": image,
                        "true_label": truth,
                        "answer": truth,
                        "generator": generator if truth == "synthetic" else None,
                        "staircase": generator,
                        "exposure_limit_ms": exposure,
                        "round": k + 1,
                    }
                )
    result = report(rows, n_resamples=2000, model="none", agreement_resamples=50)
    hype = {row["generator"]: row for row in result["hype_time"]["by_generator"]}
    g1 = [first for first, _ in thresholds.values()]
    assert hype["g1"]["estimate_ms"] == pytest.approx(np.mean(g1))
    assert hype["g1"]["participants"] == 4
    low, high = hype["g1"]["ci95_ms"]
    assert min(g1) <= low < np.mean(g1) < high <= max(g1)
    overall = np.mean([(first + second) / 2 for first, second in thresholds.values()])
    assert result["hype_time"]["overall"]["estimate_ms"] == pytest.approx(overall)
    by_generator = {row["generator"]: row for row in result["by_generator"]}
    assert by_generator["g2"]["hype_time"]["estimate_ms"] == pytest.approx(
        np.mean([second for _, second in thresholds.values()])
    )
