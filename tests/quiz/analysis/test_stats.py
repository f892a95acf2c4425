"""quiz.analysis.stats: every figure against scipy/statsmodels computed here, on small fixtures."""

import json
from dataclasses import replace

import krippendorff
import numpy as np
import pytest
from scipy import special, stats
from statsmodels.genmod.cov_struct import Exchangeable
from statsmodels.genmod.families import Binomial
from statsmodels.genmod.generalized_estimating_equations import GEE
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.proportion import proportion_confint

from quiz.analysis.stats import report
from quiz.analysis.stats.headline import FIGURES, participant_bootstrap
from quiz.analysis.stats.rows import TrialRow
from quiz.studies.design import REAL, session_design

HEADLINE_KEYS = {"estimate", "ci95", "naive_ci95", "p_vs_chance"}
TOP_LEVEL = {
    "participants",
    "trials",
    *FIGURES,
    "dprime_convention",
    "agreement",
    "by_expertise",
    "by_generator",
    "generator_comparisons",
    "per_participant",
    "per_image",
    "position",
    "learning",
    "response_times",
    "equivalence",
    "power",
    "model",
}


def _other(label: str) -> str:
    return "synthetic" if label == "real" else "real"


def _session(participant, real, real_right, synthetic, synthetic_right, **fields):
    """One participant's trials: each on an image of their own, right answers first."""
    rows = []
    for label, shown, right in (
        ("real", real, real_right),
        ("synthetic", synthetic, synthetic_right),
    ):
        for k in range(shown):
            rows.append(
                TrialRow(
                    participant=participant,
                    image=f"{participant}-{label}-{k}",
                    true_label=label,
                    answer=label if k < right else _other(label),
                    **fields,
                )
            )
    return rows


def _safe(result: dict) -> dict:
    """The report is plain JSON: json.dumps refuses NaN and infinities here."""
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    return result


# Three participants: (real shown, real right, synthetic shown, synthetic right).
COUNTS = {"p1": (6, 5, 4, 3), "p2": (5, 2, 5, 4), "p3": (3, 1, 7, 2)}


@pytest.fixture(scope="module")
def small():
    rows = [row for pid, counts in COUNTS.items() for row in _session(pid, *counts)]
    return _safe(report(rows, model="none"))


def test_headline_figures_are_means_over_participants_with_a_t_test_and_a_naive_wilson(small):
    accuracy = np.array([(rr + sr) / (r + s) for r, rr, s, sr in COUNTS.values()])
    assert small["accuracy"]["estimate"] == pytest.approx(accuracy.mean())  # (.8 + .6 + .3) / 3
    assert small["accuracy"]["estimate"] == pytest.approx(1.7 / 3)
    assert small["accuracy"]["pooled"] == pytest.approx(17 / 30)
    assert small["accuracy"]["naive_ci95"] == pytest.approx(
        proportion_confint(17, 30, method="wilson")
    )
    assert small["accuracy"]["p_vs_chance"] == pytest.approx(
        stats.ttest_1samp(accuracy, 0.5).pvalue
    )
    assert small["hype_error"]["estimate"] == pytest.approx(1 - accuracy.mean())
    real = np.array([rr / r for r, rr, _, _ in COUNTS.values()])
    synthetic = np.array([sr / s for _, _, s, sr in COUNTS.values()])
    assert small["real_accuracy"]["estimate"] == pytest.approx(real.mean())
    assert small["fooling_rate"]["estimate"] == pytest.approx((1 - synthetic).mean())
    assert small["fooling_rate"]["naive_ci95"] == pytest.approx(
        proportion_confint(16 - 9, 16, method="wilson")
    )
    assert small["balanced_accuracy"]["estimate"] == pytest.approx(((real + synthetic) / 2).mean())
    assert small["balanced_accuracy"]["naive_ci95"] is None
    for name in FIGURES:
        figure = small[name]
        assert set(figure) >= HEADLINE_KEYS
        low, high = figure["ci95"]
        assert low <= figure["estimate"] <= high


def test_d_prime_takes_synthetic_as_the_signal_with_the_log_linear_correction(small):
    hits = np.array([(sr + 0.5) / (s + 1) for _, _, s, sr in COUNTS.values()])
    false_alarms = np.array([(r - rr + 0.5) / (r + 1) for r, rr, _, _ in COUNTS.values()])
    dprime = stats.norm.ppf(hits) - stats.norm.ppf(false_alarms)
    criterion = -(stats.norm.ppf(hits) + stats.norm.ppf(false_alarms)) / 2
    # p1 by hand: H = 3.5 / 5, F = 1.5 / 7; z(0.7) = 0.5244, z(0.2143) = -0.7916.
    assert dprime[0] == pytest.approx(0.5244 + 0.7916, abs=1e-3)
    assert small["dprime"]["estimate"] == pytest.approx(dprime.mean())
    assert small["criterion"]["estimate"] == pytest.approx(criterion.mean())
    assert small["dprime"]["p_vs_chance"] == pytest.approx(stats.ttest_1samp(dprime, 0).pvalue)
    assert small["per_participant"][0]["dprime"] == pytest.approx(dprime[0])
    assert small["per_participant"][0]["hit_rate"] == pytest.approx(3 / 4)
    assert small["per_participant"][0]["false_alarm_rate"] == pytest.approx(1 / 6)
    assert "signal = synthetic" in small["dprime_convention"]


def test_the_participant_bootstrap_has_the_standard_error_of_a_mean_and_skips_missing_values():
    rng = np.random.default_rng(0)
    values = rng.normal(0.6, 0.1, size=(50, 1))
    with_gap = np.vstack([values, [[np.nan]]])
    means = participant_bootstrap(with_gap, 20_000, np.random.default_rng(1))[:, 0]
    # The bootstrap SE of a mean of n values is their SD (ddof 0) over sqrt(n).
    assert means.std() == pytest.approx(values.std() / np.sqrt(50), rel=0.03)
    assert means.mean() == pytest.approx(values.mean(), abs=0.002)


def test_the_bootstrap_is_seeded():
    rows = _accuracies([20, 25, 32, 28, 22, 30, 26, 24])
    first = report(rows, model="none", n_resamples=500, seed=3)["accuracy"]["ci95"]
    assert report(rows, model="none", n_resamples=500, seed=3)["accuracy"]["ci95"] == first
    assert report(rows, model="none", n_resamples=500, seed=4)["accuracy"]["ci95"] != first


def _clustered_study(rng: np.random.Generator, participants=30, trials=40, images=80):
    ability = rng.beta(6, 4, participants)  # mean 0.6: participants differ
    rows = []
    for p in range(participants):
        right = rng.random(trials) < ability[p]
        for k, image in enumerate(rng.choice(images, trials, replace=False)):
            label = "synthetic" if image % 2 else "real"
            answer = label if right[k] else _other(label)
            rows.append(TrialRow(p, int(image), label, answer))
    return rows


def test_the_cluster_bootstrap_covers_the_mean_where_the_naive_interval_does_not():
    rng = np.random.default_rng(2024)
    covered = {"ci95": 0, "naive_ci95": 0}
    studies = 200
    for _ in range(studies):
        accuracy = report(
            _clustered_study(rng), n_resamples=1_000, agreement_resamples=0, model="none"
        )["accuracy"]
        for key in covered:
            low, high = accuracy[key]
            covered[key] += low <= 0.6 <= high
    # The percentile interval runs a little short at n = 30 (~93%), as expected.
    assert 0.88 <= covered["ci95"] / studies <= 0.99
    # Trials of one participant are not independent: the naive interval is far too narrow.
    assert covered["naive_ci95"] / studies <= 0.80


def _rated(ratings: dict[str, tuple[str, int, int]], raters: int) -> list[TrialRow]:
    """Every participant rates every image: image -> (truth, judged real of `raters`)."""
    rows = []
    for image, (truth, judged_real, _) in ratings.items():
        for p in range(raters):
            rows.append(TrialRow(p, image, truth, "real" if p < judged_real else "synthetic"))
    return rows


def test_per_image_p_values_are_binomial_and_adjusted_by_benjamini_hochberg():
    ratings = {
        "s1": ("synthetic", 19, 20),
        "s2": ("synthetic", 15, 20),
        "s3": ("synthetic", 10, 20),
        "r1": ("real", 4, 20),
    }
    result = _safe(report(_rated(ratings, 20), model="none"))["per_image"]
    wrong = {"s1": 19, "s2": 15, "s3": 10, "r1": 16}  # r1: 16 of 20 judged synthetic
    p = [stats.binomtest(wrong[name], 20, 0.5).pvalue for name in ratings]
    q = multipletests(p, method="fdr_bh")[1]
    rows = {row["image"]: row for row in result["images"]}
    for name, p_value, q_value in zip(ratings, p, q, strict=True):
        assert rows[name]["p"] == pytest.approx(p_value)
        assert rows[name]["q"] == pytest.approx(q_value)
        assert rows[name]["rate"] == pytest.approx(wrong[name] / 20)
    assert rows["s1"]["measure"] == "fooling_rate"
    assert rows["r1"]["measure"] == "judged_synthetic_rate"
    # s2 has p < 0.05 but q > 0.05; r1 survives but is a real image.
    assert p[1] < 0.05 < q[1]
    assert [row["image"] for row in result["hardest_fakes"]] == ["s1"]
    assert result["note"] is None


def test_hardest_fakes_say_no_image_stands_out_when_none_survives():
    ratings = {"s1": ("synthetic", 12, 20), "s2": ("synthetic", 9, 20), "r1": ("real", 11, 20)}
    result = report(_rated(ratings, 20), model="none")["per_image"]
    assert result["hardest_fakes"] == []
    assert result["note"].startswith("No image stands out")


def test_agreement_is_fleiss_kappa_when_everyone_rated_the_same_images():
    rng = np.random.default_rng(5)
    answers = rng.random((12, 15)) < np.linspace(0.1, 0.9, 15)  # raters x images, True = real
    rows = [
        TrialRow(p, i, "real" if i % 2 else "synthetic", "real" if answers[p, i] else "synthetic")
        for p in range(12)
        for i in range(15)
    ]
    agreement = _safe(report(rows, model="none"))["agreement"]
    table, _ = aggregate_raters(answers.T.astype(int))
    assert agreement["method"] == "fleiss_kappa"
    assert agreement["estimate"] == pytest.approx(fleiss_kappa(table))
    low, high = agreement["ci95"]
    assert low < agreement["estimate"] < high


def test_agreement_is_krippendorffs_alpha_when_participants_saw_different_images():
    rng = np.random.default_rng(6)
    matrix = np.full((10, 20), np.nan)  # raters x images; 1 = called real
    rows = []
    for p in range(10):
        for i in rng.choice(20, 12, replace=False):
            called_real = rng.random() < (0.2 if i < 10 else 0.8)
            matrix[p, i] = called_real
            rows.append(TrialRow(p, int(i), "real", "real" if called_real else "synthetic"))
    agreement = report(rows, model="none")["agreement"]
    assert agreement["method"] == "krippendorff_alpha"
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert agreement["estimate"] == pytest.approx(expected)


def test_position_bias_is_a_chi_squared_test_of_answers_by_letter():
    rows = []
    called_real = {"A": 14, "B": 10, "C": 4}  # of 20 trials each
    for letter, real_answers in called_real.items():
        for k in range(20):
            truth = "real" if k % 2 else "synthetic"
            answer = "real" if k < real_answers else "synthetic"
            rows.append(TrialRow(k, f"{letter}{k}", truth, answer, letter=letter))
    position = _safe(report(rows, model="none"))["position"]
    table = np.array([[v, 20 - v] for v in called_real.values()])
    expected = stats.chi2_contingency(table)
    assert position["real_answers_test"]["chi2"] == pytest.approx(expected.statistic)
    assert position["real_answers_test"]["p"] == pytest.approx(expected.pvalue)
    assert [row["real_answers"] for row in position["letters"]] == [0.7, 0.5, 0.2]


def test_learning_over_rounds_shows_and_matches_a_gee_with_participant_clusters():
    rng = np.random.default_rng(7)
    rows = []
    for p in range(40):
        for r in range(1, 6):
            for k in range(10):
                label = "real" if rng.random() < 0.5 else "synthetic"
                right = rng.random() < 0.45 + 0.08 * r
                rows.append(
                    TrialRow(p, (p, r, k), label, label if right else _other(label), round=r)
                )
    learning = _safe(report(rows, model="none"))["learning"]
    rounds = np.array([row.round for row in rows])
    correct = np.array([row.correct for row in rows], dtype=float)
    groups = np.array([row.participant for row in rows])
    exog = np.column_stack([np.ones(len(rows)), rounds - rounds.mean()])
    fit = GEE(correct, exog, groups=groups, family=Binomial(), cov_struct=Exchangeable()).fit()
    assert learning["trend"]["log_odds"] == pytest.approx(fit.params[1], rel=1e-6)
    assert learning["trend"]["p"] == pytest.approx(fit.pvalues[1], rel=1e-4)
    assert learning["trend"]["log_odds"] > 0 and learning["trend"]["p"] < 0.001
    first = rounds == 1
    assert learning["rounds"][0]["accuracy"] == pytest.approx(correct[first].mean())


def test_response_times_compare_correct_and_wrong_within_participants():
    times = {  # participant: (correct times, wrong times)
        0: ([500, 700, 900], [1200, 1500]),
        1: ([400, 600], [650, 800, 1000]),
        2: ([800, 1000, 1100], [900]),
        3: ([300, 500], [700, 900]),
    }
    rows = []
    for p, (right, wrong) in times.items():
        for k, ms in enumerate(right):
            rows.append(TrialRow(p, (p, "r", k), "real", "real", response_ms=ms))
        for k, ms in enumerate(wrong):
            rows.append(TrialRow(p, (p, "w", k), "real", "synthetic", response_ms=ms))
    rows.append(TrialRow(9, "unknown", "real", "real", response_ms=None))
    result = _safe(report(rows, model="none"))["response_times"]
    everything = [ms for right, wrong in times.values() for ms in right + wrong]
    assert result["trials"] == len(everything)
    assert result["quantiles"]["q50"] == pytest.approx(np.quantile(everything, 0.5))
    assert result["quantiles"]["q95"] == pytest.approx(np.quantile(everything, 0.95))
    differences = [np.median(right) - np.median(wrong) for right, wrong in times.values()]
    assert result["paired"]["participants"] == 4
    assert result["paired"]["median_difference_ms"] == pytest.approx(np.median(differences))
    assert result["paired"]["p"] == pytest.approx(stats.wilcoxon(differences).pvalue)
    assert result["median_correct_ms"] == pytest.approx(
        np.median([ms for right, _ in times.values() for ms in right])
    )


def _accuracies(correct_counts: list[int], trials: int = 50) -> list[TrialRow]:
    rows = []
    for p, right in enumerate(correct_counts):
        for k in range(trials):
            label = "real" if k % 2 else "synthetic"
            rows.append(TrialRow(p, (p, k), label, label if k < right else _other(label)))
    return rows


@pytest.mark.parametrize(
    ("correct_counts", "verdict"),
    [
        ([24, 25, 26] * 20, "equivalent to chance"),
        ([33, 35, 37] * 10, "different from chance"),
        ([20, 25, 32], "inconclusive"),
    ],
)
def test_equivalence_to_chance_is_a_tost_over_participants(correct_counts, verdict):
    equivalence = _safe(report(_accuracies(correct_counts), model="none"))["equivalence"]
    accuracy = np.array(correct_counts) / 50
    assert equivalence["verdict"] == verdict
    # On the logit scale of the mean accuracy, with the delta method's standard error.
    mean = accuracy.mean()
    se = stats.sem(accuracy) / (mean * (1 - mean))
    df = accuracy.size - 1
    logit = special.logit
    assert equivalence["p_lower"] == pytest.approx(stats.t.sf((logit(mean) - logit(0.45)) / se, df))
    assert equivalence["p_upper"] == pytest.approx(
        stats.t.cdf((logit(mean) - logit(0.55)) / se, df)
    )
    low, high = equivalence["ci90"]
    assert (low > 0.45 and high < 0.55) == (verdict == "equivalent to chance")
    assert equivalence["p_different"] == pytest.approx(stats.ttest_1samp(accuracy, 0.5).pvalue)


def test_the_margin_is_set_per_study():
    rows = _accuracies([27, 28, 29] * 20)  # mean accuracy 0.56
    assert report(rows, model="none")["equivalence"]["verdict"] == "different from chance"
    wide = report(rows, model="none", margin=0.1)["equivalence"]
    assert wide["verdict"] == "equivalent to chance"
    assert wide["bounds"] == pytest.approx([0.4, 0.6])


def test_power_gives_participants_needed_from_the_observed_spread():
    counts = [20, 25, 32, 28, 22, 30, 26, 24]
    power = _safe(report(_accuracies(counts), model="none"))["power"]
    sd = np.std(np.array(counts) / 50, ddof=1)
    assert power["between_participant_sd"] == pytest.approx(sd)
    assert power["participants"] == 8
    for target, row in zip((0.55, 0.60), power["targets"], strict=True):
        needed = TTestPower().solve_power(effect_size=(target - 0.5) / sd, alpha=0.05, power=0.8)
        assert row["accuracy"] == target
        assert row["participants_needed"] == int(np.ceil(needed))
        assert row["power_at_current_n"] == pytest.approx(
            TTestPower().power(effect_size=(target - 0.5) / sd, nobs=8, alpha=0.05)
        )


def test_a_participant_who_always_answers_real_has_no_sensitivity_under_the_design():
    # Unbalanced pools (30 real, 6 synthetic): each session's real count is drawn
    # symmetrically about half, so always answering "real" earns chance.
    rng = np.random.default_rng(8)
    rows = []
    for p in range(400):
        design = session_design(10, 1, 30, 6, 0, rng)
        for k, slot in enumerate(design):
            rows.append(TrialRow(p, (p, k), "real" if slot == REAL else "synthetic", "real"))
    result = _safe(report(rows, model="none", n_resamples=2_000))
    assert result["accuracy"]["estimate"] == pytest.approx(0.5, abs=0.02)
    assert result["balanced_accuracy"]["estimate"] == 0.5
    assert result["dprime"]["estimate"] == pytest.approx(0.0, abs=0.05)
    assert result["criterion"]["estimate"] > 1  # the whole of it is bias towards "real"
    assert result["equivalence"]["verdict"] == "equivalent to chance"


def test_one_unbalanced_session_of_real_answers_has_chance_balanced_accuracy():
    rows = _session("p", 14, 14, 6, 0)  # 14 real, 6 synthetic, every answer "real"
    result = report(rows, model="none")
    assert result["accuracy"]["estimate"] == pytest.approx(0.7)  # what the old design rewarded
    assert result["balanced_accuracy"]["estimate"] == 0.5
    # The log-linear correction leaves a small d' when the classes are unequal.
    expected = stats.norm.ppf(0.5 / 7) - stats.norm.ppf(0.5 / 15)
    assert result["dprime"]["estimate"] == pytest.approx(expected)
    assert abs(expected) < 0.4


def _effects_study(seed: int = 9) -> list[TrialRow]:
    """Experts see through fakes; run B's images fool more than run A's."""
    rng = np.random.default_rng(seed)
    images = [("real", None, i) for i in range(40)] + [
        ("synthetic", "A" if i < 20 else "B", 40 + i) for i in range(40)
    ]
    image_effect = rng.normal(0, 0.3, len(images))
    rows = []
    for p in range(60):
        group = "expert" if p % 2 else "novice"
        ability = rng.normal(0, 0.3)
        for i in rng.choice(len(images), 40, replace=False):
            label, run, image = images[i]
            expert = group == "expert"
            if label == "synthetic":
                logit = -0.2 + 1.0 * (run == "B") - 0.8 * expert - ability + image_effect[i]
            else:
                logit = 0.2 + 0.8 * expert + ability + image_effect[i]
            called_real = rng.random() < 1 / (1 + np.exp(-logit))
            answer = "real" if called_real else "synthetic"
            rows.append(TrialRow(p, image, label, answer, group, run, 1000 if run else None))
    return rows


def _coefficient(model: dict, outcome: str, level: str) -> dict:
    return next(c for c in model[outcome]["coefficients"] if c["level"] == level)


def test_the_mixed_model_tests_experts_against_novices_and_run_b_against_run_a():
    model = _safe(report(_effects_study(), n_resamples=500, expertise_reference="novice"))["model"]
    assert model["method"] == "mixed"
    assert model["expertise_reference"] == "novice"
    expert = _coefficient(model, "correct", "expert")
    assert expert["reference"] == "novice"
    assert expert["log_odds"] > 0 and expert["p"] < 0.05 and expert["ci95"][0] > 0
    run_b = _coefficient(model, "called_real", "B")
    assert run_b["reference"] == "A"
    assert run_b["log_odds"] > 0 and run_b["p"] < 0.05
    assert run_b["odds_ratio"] == pytest.approx(np.exp(run_b["log_odds"]))
    assert model["called_real"]["random_effects_sd"]["participant"] > 0


def test_the_fallback_is_a_logistic_model_with_participant_and_image_clusters():
    rows = _effects_study()
    result = report(rows, n_resamples=500, model="clustered", expertise_reference="novice")
    model = _safe(result)["model"]
    synthetic = [row for row in rows if row.true_label == "synthetic"]
    endog = np.array([row.answer == "real" for row in synthetic], dtype=float)
    exog = np.column_stack(
        [
            np.ones(len(synthetic)),
            [row.expertise == "expert" for row in synthetic],
            [row.training_run == "B" for row in synthetic],
        ]
    ).astype(float)
    groups = np.array([(row.participant, row.image - 40) for row in synthetic])
    fit = GLM(endog, exog, family=Binomial()).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert model["method"] == "clustered"
    run_b = _coefficient(model, "called_real", "B")
    assert run_b["log_odds"] == pytest.approx(fit.params[2], rel=1e-6)
    assert run_b["se"] == pytest.approx(fit.bse[2], rel=1e-6)


def test_by_expertise_has_the_headline_shape_per_group_with_its_own_participants():
    rows = [row for pid, counts in COUNTS.items() for row in _session(pid, *counts)]
    rows = [
        replace(row, expertise="student" if row.participant == "p3" else "none") for row in rows
    ]
    groups = {
        group["expertise"]: group for group in _safe(report(rows, model="none"))["by_expertise"]
    }
    assert set(groups) == {"none", "student"}
    assert groups["none"]["participants"] == 2
    assert groups["none"]["accuracy"]["estimate"] == pytest.approx((0.8 + 0.6) / 2)
    assert groups["student"]["accuracy"]["estimate"] == pytest.approx(0.3)
    assert groups["student"]["accuracy"]["ci95"] is None  # one participant: no interval
    assert set(FIGURES) <= set(groups["none"])


def test_by_generator_gives_the_fooling_rate_per_run_and_checkpoint_over_participants():
    # Rows that name only a training run (a CSV from before generators): each run is a generator.
    rows = []
    for p, (fooled_a, fooled_b) in enumerate([(3, 1), (1, 0), (2, 2)]):
        for run, fooled, step in (("A", fooled_a, 100), ("B", fooled_b, 200)):
            for k in range(4):
                answer = "real" if k < fooled else "synthetic"
                rows.append(TrialRow(p, f"{run}{k}", "synthetic", answer, "", run, step))
        rows.append(TrialRow(p, f"real{p}", "real", "real"))
    by_run = _safe(report(rows, model="none"))["by_generator"]
    assert [run["generator"] for run in by_run] == ["A", "B"]
    assert [run["training_run"] for run in by_run] == ["A", "B"]
    assert by_run[0]["fooling_rate"]["estimate"] == pytest.approx((3 + 1 + 2) / 12)
    assert by_run[1]["fooling_rate"]["estimate"] == pytest.approx((1 + 0 + 2) / 12)
    assert by_run[0]["images"] == 4 and by_run[0]["participants"] == 3
    assert by_run[1]["checkpoints"][0]["checkpoint_step"] == 200
    assert by_run[1]["checkpoints"][0]["fooling_rate"]["estimate"] == pytest.approx(3 / 12)


def _edge_cases() -> dict[str, list[TrialRow]]:
    return {
        "no trials": [],
        "one participant": _session("only", 5, 3, 5, 2),
        "all correct": _session("a", 5, 5, 5, 5) + _session("b", 4, 4, 6, 6),
        "only one class answered": _session("a", 5, 5, 5, 0) + _session("b", 6, 6, 4, 0),
        "one class never shown": _session("a", 6, 4, 0, 0) + _session("b", 6, 2, 0, 0),
    }


@pytest.mark.parametrize("case", list(_edge_cases()))
def test_edge_cases_give_defined_output(case):
    result = _safe(report(_edge_cases()[case]))
    assert set(result) >= TOP_LEVEL
    for name in FIGURES:
        assert set(result[name]) >= HEADLINE_KEYS


def test_edge_cases_say_what_cannot_be_computed():
    cases = {name: report(rows) for name, rows in _edge_cases().items()}
    assert cases["no trials"]["participants"] == 0
    assert cases["no trials"]["accuracy"]["estimate"] is None
    one = cases["one participant"]
    assert one["accuracy"]["estimate"] == 0.5
    assert one["accuracy"]["ci95"] is None and one["accuracy"]["p_vs_chance"] is None
    assert one["model"]["method"] is None and one["model"]["reason"]
    perfect = cases["all correct"]
    assert perfect["accuracy"]["estimate"] == 1.0
    assert perfect["accuracy"]["ci95"] == [1.0, 1.0]
    assert perfect["model"]["correct"]["coefficients"] is None
    assert perfect["equivalence"]["verdict"] == "inconclusive"
    same = cases["only one class answered"]
    assert same["fooling_rate"]["estimate"] == 1.0
    assert same["balanced_accuracy"]["estimate"] == 0.5
    assert same["agreement"]["estimate"] is None and same["agreement"]["reason"]
    real_only = cases["one class never shown"]
    assert real_only["dprime"]["estimate"] is None
    assert real_only["fooling_rate"]["estimate"] is None
    assert real_only["by_generator"] == [] and real_only["generator_comparisons"] == []


def test_trials_may_be_mappings_and_bad_labels_are_refused_with_the_trial_named():
    rows = [row for pid, counts in COUNTS.items() for row in _session(pid, *counts)]
    mappings = [
        {
            "participant": r.participant,
            "image": r.image,
            "true_label": r.true_label,
            "answer": r.answer,
        }
        for r in rows
    ]
    assert report(mappings, model="none") == report(rows, model="none")
    with pytest.raises(ValueError, match="trial 1: answer"):
        report([*mappings[:1], {**mappings[1], "answer": "fake"}])
    with pytest.raises(ValueError, match="shown as both real and synthetic"):
        report(
            [
                TrialRow(1, "x", "real", "real"),
                TrialRow(2, "x", "synthetic", "real"),
            ]
        )
