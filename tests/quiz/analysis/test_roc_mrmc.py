"""ROC and MRMC over confidence ratings: per-participant AUCs, the published Van Dyke figures,
the bootstrap where readers saw different images, the groups and the block's absence.

The Van Dyke et al. (1993) data (tests/data/vandyke1993.csv) come from RJafroc's repository
(github.com/dpc10ster/RJafroc, GPL-3); the figures below are OR-DBM MRMC 2.51's printed output on
them, shipped in the same repository as inst/Iowa/VanDyke.txt (both modalities) and
inst/Iowa/VanDyke1T.txt (modality 0 alone). tests/data/README.md says more.
"""

import csv
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from quiz.analysis import stats
from quiz.analysis.stats.mrmc import jackknife_aucs, or_hillis, two_way_bootstrap
from quiz.analysis.stats.roc import Rated, reader_averaged_auc, roc_block
from quiz.analysis.stats.rows import TrialRow, Trials

VAN_DYKE = Path(__file__).parents[2] / "data" / "vandyke1993.csv"


def printed(value: float, text: str) -> bool:
    """`value` prints as `text` at its number of decimals (what "to the printed digits" means)."""
    decimals = -Decimal(text).as_tuple().exponent
    return abs(value - float(text)) <= 0.5 * 10.0**-decimals + 1e-15


def _row(participant, image, synthetic: bool, rating, **extra) -> TrialRow:
    label = "synthetic" if synthetic else "real"
    return TrialRow(participant, image, label, label, rating=rating, **extra)


# --- per-participant AUCs against a hand-made fixture ------------------------------------------


def test_per_participant_aucs_are_the_mann_whitney_areas_of_a_hand_made_fixture():
    rows = [
        # p1 separates perfectly: every synthetic image rated above every real one.
        *(_row("p1", f"s{i}", True, 5 + i % 2) for i in range(4)),
        *(_row("p1", f"r{i}", False, 1 + i % 2) for i in range(4)),
        # p2 gives every image the same rating: all ties.
        *(_row("p2", f"s{i}", True, 3) for i in range(4)),
        *(_row("p2", f"r{i}", False, 3) for i in range(4)),
        # p3 is reversed: every real image rated more synthetic than every synthetic one.
        *(_row("p3", f"s{i}", True, 1) for i in range(4)),
        *(_row("p3", f"r{i}", False, 6) for i in range(4)),
        # p4 by hand: synthetic {3, 4} against real {1, 3}: 1 + ½ + 1 + 1 of 4 pairs.
        _row("p4", "s0", True, 3),
        _row("p4", "s1", True, 4),
        _row("p4", "r0", False, 1),
        _row("p4", "r1", False, 3),
        # p5 saw synthetic images only: no curve.
        _row("p5", "s0", True, 2),
        _row("p5", "s1", True, 4),
    ]
    block = roc_block(Trials.of(rows))
    auc = {row["participant"]: row["auc"] for row in block["per_participant"]}
    assert auc == {"p1": 1.0, "p2": 0.5, "p3": 0.0, "p4": 0.875, "p5": None}
    points = {row["participant"]: row["roc_points"] for row in block["per_participant"]}
    as_pairs = {p: [(pt["fpr"], pt["tpr"]) for pt in pts] for p, pts in points.items()}
    assert as_pairs["p1"] == [(0, 0), (0, 0.5), (0, 1), (0.5, 1), (1, 1)]
    assert as_pairs["p2"] == [(0, 0), (1, 1)]
    assert as_pairs["p4"] == [(0, 0), (0, 0.5), (0.5, 1), (1, 1)]
    # Each point is "called synthetic at this rating or above"; the origin has no rating.
    assert [pt["rating"] for pt in points["p4"]] == [None, 4, 3, 1]
    assert points["p5"] == []
    assert block["positive_class"] == "synthetic"
    assert block["ratings"] == [1, 2, 3, 4, 5, 6]


def test_the_jackknife_leaves_each_case_out_exactly():
    rng = np.random.default_rng(3)
    truth = np.arange(12) < 5
    scores = rng.integers(1, 6, size=(3, 12)) + truth
    aucs, left_out = jackknife_aucs(scores, truth)
    for k in range(3):
        for case in range(12):
            keep = np.arange(12) != case
            s, y = scores[k, keep], truth[keep]
            pairs = (s[y][:, None] > s[~y][None, :]) + 0.5 * (s[y][:, None] == s[~y][None, :])
            assert left_out[k, case] == pytest.approx(pairs.mean())
    with pytest.raises(ValueError, match="two cases of each class"):
        jackknife_aucs(scores[:, 4:], truth[4:])


# --- Van Dyke et al. 1993, against OR-DBM MRMC's published output ------------------------------


def _van_dyke() -> tuple[np.ndarray, np.ndarray, list[dict]]:
    with VAN_DYKE.open(newline="") as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == 1140
    scores = np.zeros((2, 5, 114))
    truth = np.zeros(114, dtype=bool)
    for record in records:
        m, r, c = int(record["modality"]), int(record["reader"]), int(record["case"]) - 1
        scores[m, r, c] = float(record["rating"])
        truth[c] = record["truth"] == "1"
    return scores, truth, records


# VanDyke.txt / VanDyke1T.txt, "TREATMENT x READER AUC ESTIMATES" and "Analysis 1 (OR Analysis):
# Random Readers and Random Cases", c) Single-treatment 95% confidence intervals.
PUBLISHED_READER_AUCS = {
    0: ["0.91964573", "0.85877617", "0.90386473", "0.97310789", "0.82979066"],
    1: ["0.94782609", "0.90531401", "0.92173913", "0.99935588", "0.92995169"],
}
PUBLISHED_SINGLE_MODALITY = {
    0: {
        "estimate": "0.89703704",
        "se": "0.03317360",
        "df": "12.74",
        "ci95": ("0.82522360", "0.96885048"),
        "cov2": "0.00048396",
        "ms_r": "0.00308263",
        "var_error": "0.00101410",
    },
    1: {
        "estimate": "0.94083736",
        "se": "0.02156637",
        "df": "12.71",
        "ci95": ("0.89413783", "0.98753689"),
        "cov2": "0.00020419",
        "ms_r": "0.00130460",
        "var_error": "0.00059047",
    },
}


@pytest.mark.parametrize("modality", [0, 1])
def test_van_dyke_one_modality_as_trial_rows_matches_the_published_or_hillis_figures(
    modality,
):
    """Our studies have one modality: each Van Dyke modality alone, as trial rows."""
    _, _, records = _van_dyke()
    rows = [
        {
            "participant": f"reader {record['reader']}",
            "image": int(record["case"]),
            "true_label": "synthetic" if record["truth"] == "1" else "real",
            "answer": "synthetic" if float(record["rating"]) >= 3 else "real",
            "rating": float(record["rating"]),
        }
        for record in records
        if int(record["modality"]) == modality
    ]
    block = roc_block(Trials.of(rows))
    aucs = [row["auc"] for row in block["per_participant"]]
    published = PUBLISHED_READER_AUCS[modality]
    assert all(printed(a, t) for a, t in zip(aucs, published, strict=True)), aucs
    auc, published = block["auc"], PUBLISHED_SINGLE_MODALITY[modality]
    assert (auc["method"], auc["readers"], auc["cases"]) == ("obuchowski-rockette-hillis", 5, 114)
    assert block["design"] == "fully crossed"
    for name in ("estimate", "se", "df", "cov2", "ms_r", "var_error"):
        assert printed(auc[name], published[name]), (name, auc[name], published[name])
    assert printed(auc["ci95"][0], published["ci95"][0])
    assert printed(auc["ci95"][1], published["ci95"][1])


def test_van_dyke_two_modalities_match_the_published_f_test_and_difference():
    scores, truth, _ = _van_dyke()
    aucs, left_out = jackknife_aucs(scores.reshape(10, 114), truth)
    result = or_hillis(aucs.reshape(2, 5), left_out.reshape(2, 5, 114))
    comparison = result["comparison"]
    # "Obuchowski-Rockette variance component and covariance estimates" and the T x R ANOVA.
    for name, text in {
        "cov1": "0.00034661",
        "cov2": "0.00034407",
        "cov3": "0.00023903",
        "var_error": "0.00080229",
        "ms_t": "0.00479617",
        "ms_tr": "0.00055103",
        "denominator": "0.00107626",
        "f": "4.46",
        "df2": "15.26",
        "p": "0.0517",
    }.items():
        assert printed(comparison[name], text), (name, comparison[name], text)
    assert comparison["df1"] == 1
    # b) the difference 1 - 2: -0.04380, SE 0.02075, t -2.11, 95% CI (-0.08796, 0.00036).
    (difference,) = comparison["differences"]
    assert printed(difference["estimate"], "-0.04380032")
    assert printed(difference["se"], "0.02075")
    assert printed(difference["t"], "-2.11")
    assert printed(difference["p"], "0.0517")
    assert printed(difference["ci95"][0], "-0.08796")
    assert printed(difference["ci95"][1], "0.00036")
    # RJafroc's inst/obumrm2/ObuRoc.R records the p-value to more digits: 0.051665686.
    assert printed(comparison["p"], "0.051665686")


# --- designs that are not fully crossed -------------------------------------------------------


def _simulated_study(seed: int, readers=25, pool=60, seen=30, separation=1.2):
    """Each reader rates `seen` images drawn from a pool of `pool` synthetic + `pool` real, on
    6 points; latent = (separation + reader shift)·synthetic + image effect + noise."""
    rng = np.random.default_rng(seed)
    image_effect = rng.normal(0, 0.5, 2 * pool)
    synthetic = np.arange(2 * pool) < pool
    rows = []
    for reader in range(readers):
        shift = rng.normal(0, 0.3)
        images = np.concatenate(
            [rng.choice(pool, seen // 2, replace=False), pool + rng.choice(pool, seen // 2)]
        )  # real images drawn with replacement: a participant may meet one twice
        for image in images:
            latent = (separation + shift) * synthetic[image] + image_effect[image]
            rating = int(np.digitize(latent + rng.normal(), THRESHOLDS)) + 1
            rows.append(_row(f"r{reader}", int(image), bool(synthetic[image]), rating))
    return rows


THRESHOLDS = [-0.5, 0.0, 0.5, 1.0, 1.5]


def _true_auc(separation=1.2, draws=2_000_000) -> float:
    """The population reader-averaged AUC of _simulated_study's model, by Monte Carlo."""
    rng = np.random.default_rng(12345)
    shift = rng.normal(0, 0.3, draws)
    positive = separation + shift + rng.normal(0, 0.5, draws) + rng.normal(size=draws)
    negative = rng.normal(0, 0.5, draws) + rng.normal(size=draws)
    x, y = np.digitize(positive, THRESHOLDS), np.digitize(negative, THRESHOLDS)
    return float(np.mean((x > y) + 0.5 * (x == y)))


def test_a_design_that_is_not_crossed_gets_the_two_way_bootstrap_and_covers_the_truth():
    truth = _true_auc()
    block = roc_block(Trials.of(_simulated_study(seed=1)), n_resamples=1000)
    auc = block["auc"]
    assert block["design"] == "not crossed"
    assert auc["method"] == "two-way bootstrap"
    assert auc["df"] is None and auc["resamples"] == 1000
    assert auc["ci95"][0] < truth < auc["ci95"][1]
    assert 0 < auc["ci95"][1] - auc["ci95"][0] < 0.25
    assert auc["estimate"] == pytest.approx(
        np.mean([row["auc"] for row in block["per_participant"]])
    )
    # Over 40 seeded studies the interval covers the truth at least at its nominal rate,
    # less binomial slack (the two-way bootstrap is conservative).
    covered = 0
    for seed in range(100, 140):
        data = Trials.of(_simulated_study(seed))
        rated = Rated(data.participant, data.image, data.synthetic, data.rating)
        ci = reader_averaged_auc(rated, 300, np.random.SeedSequence(seed))["ci95"]
        covered += ci[0] < truth < ci[1]
    assert covered >= 36


def test_one_missing_rating_makes_a_crossed_design_a_bootstrap_one():
    _, _, records = _van_dyke()
    rows = [
        _row(record["reader"], record["case"], record["truth"] == "1", float(record["rating"]))
        for record in records
        if record["modality"] == "0"
    ]
    assert roc_block(Trials.of(rows))["auc"]["method"] == "obuchowski-rockette-hillis"
    block = roc_block(Trials.of(rows[1:]), n_resamples=200)
    assert (block["design"], block["auc"]["method"]) == ("not crossed", "two-way bootstrap")


def test_the_bootstrap_is_seeded_and_survives_a_reader_with_one_class():
    reader = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
    image = np.array([0, 1, 2, 3, 0, 1, 0, 2, 3])
    positive = np.array([True, True, False, False, True, True, True, False, False])
    score = np.array([5, 4, 1, 2, 3, 3, 2, 2, 1])
    first = two_way_bootstrap(reader, image, positive, score, 200, np.random.default_rng(7))
    again = two_way_bootstrap(reader, image, positive, score, 200, np.random.default_rng(7))
    assert first == again
    # Reader 1 saw synthetic images only: no AUC; readers 0 and 2 have 1.0 and 0.75.
    assert first["estimate"] == 0.875 and first["readers"] == 2
    # A resample that draws no reader with both classes has no estimate and is left out.
    assert 150 < first["resamples"] < 200
    assert 0.5 <= first["ci95"][0] <= first["ci95"][1] <= 1
    lone = two_way_bootstrap(
        reader[:4], image[:4], positive[:4], score[:4], 200, np.random.default_rng(7)
    )
    # One reader with an AUC cannot show the variance between readers: no interval.
    assert lone["estimate"] == 1.0 and np.isnan(lone["se"]) and lone["resamples"] == 0


def test_a_class_of_one_image_gives_no_interval_rather_than_a_zero_width_one():
    rows = [_row(p, "s", True, 5) for p in "abc"] + [
        _row(p, f"r{i}", False, i) for p in "abc" for i in (1, 2)
    ]
    auc = roc_block(Trials.of(rows), n_resamples=100)["auc"]
    assert auc["estimate"] == 1.0
    assert np.isnan(auc["se"]) and np.isnan(auc["ci95"]).all()


# --- groups, and the block's presence ----------------------------------------------------------


def test_by_generator_sets_each_generators_fakes_against_all_real_images():
    rows = []
    for reader in ("a", "b", "c"):
        for i in range(4):
            rows.append(_row(reader, f"real{i}", False, 1 + i % 2, expertise="lay"))
            # Generator 1's images are rated above every real one, generator 2's like them.
            rows.append(_row(reader, f"g1-{i}", True, 5, expertise="lay", training_run="g1"))
            rows.append(
                _row(reader, f"g2-{i}", True, 1 + i % 2, expertise="lay", training_run="g2")
            )
    block = roc_block(Trials.of(rows))
    first, second = block["by_generator"]
    assert "g1" in str(first["generator"]) and "g2" in str(second["generator"])
    assert first["auc"]["estimate"] == 1.0 and second["auc"]["estimate"] == 0.5
    assert first["trials"] == second["trials"] == 24  # 12 real + 12 of its own
    assert first["design"] == "fully crossed"
    assert first["auc"]["method"] == "obuchowski-rockette-hillis"


def test_by_expertise_analyses_each_groups_participants():
    rows = []
    for reader, expertise, separated in (("a", "expert", True), ("b", "expert", True)):
        for i in range(3):
            rows.append(_row(reader, f"s{i}", True, 6 if separated else 3, expertise=expertise))
            rows.append(_row(reader, f"r{i}", False, 1, expertise=expertise))
    for reader in ("c", "d"):
        for i in range(3):
            rows.append(_row(reader, f"s{i}", True, 2, expertise="lay"))
            rows.append(_row(reader, f"r{i}", False, 2, expertise="lay"))
    groups = {row["expertise"]: row for row in roc_block(Trials.of(rows))["by_expertise"]}
    assert groups["expert"]["auc"]["estimate"] == 1.0
    assert groups["lay"]["auc"]["estimate"] == 0.5
    assert groups["expert"]["participants"] == groups["lay"]["participants"] == 2


def test_the_report_has_a_roc_block_only_when_trials_have_ratings():
    rated = _simulated_study(seed=5, readers=6)
    unrated = [TrialRow(row.participant, row.image, row.true_label, row.answer) for row in rated]
    without = stats.report(unrated, n_resamples=200, agreement_resamples=50, model="none")
    assert "roc" not in without
    report = stats.report(
        rated, n_resamples=200, agreement_resamples=50, roc_resamples=200, model="none"
    )
    assert report["roc"]["auc"]["method"] == "two-way bootstrap"
    assert report["roc"]["trials"] == len(rated)
    assert report["settings"]["roc_resamples"] == 200
    assert "Obuchowski-Rockette" in report["methods"]["roc"]
    # Partly rated: only the rated trials enter the ROC analysis.
    partly = rated[:60] + unrated[60:]
    assert (
        stats.report(partly, n_resamples=50, agreement_resamples=20, model="none")["roc"]["trials"]
        == 60
    )


@pytest.mark.parametrize("bad", ["high", float("nan"), True, [3]])
def test_a_rating_that_is_not_a_finite_number_is_refused_naming_the_trial(bad):
    rows = [_row("p", "a", True, 3), _row("p", "b", False, bad)]
    with pytest.raises(ValueError, match="trial 1: rating must be a finite number"):
        Trials.of(rows)
