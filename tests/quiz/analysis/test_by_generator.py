"""Generators side by side: figures per generator, pairwise differences, the model's effect."""

import csv
import io
import json
from itertools import combinations

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from scipy import stats
from statsmodels.stats.multitest import multipletests

from quiz.analysis.stats import report
from quiz.analysis.stats.rows import TrialRow
from quiz.models import Guess
from tests.participant_requests import consent

# Per participant: (real shown, real right), then per generator (shown, judged real).
COUNTS = {
    "p1": ((6, 5), {"A": (4, 1), "B": (4, 3), "C": (3, 2)}),
    "p2": ((5, 3), {"A": (3, 0), "B": (4, 2), "C": (4, 4)}),
    "p3": ((7, 4), {"A": (4, 2), "B": (3, 3), "C": (4, 1)}),
    "p4": ((4, 4), {"A": (4, 1), "B": (4, 1), "C": (3, 3)}),
    "p5": ((6, 2), {"A": (3, 3), "B": (4, 4), "C": (4, 2)}),
}


def _rows() -> list[TrialRow]:
    rows = []
    for participant, ((real, right), generators) in COUNTS.items():
        for k in range(real):
            answer = "real" if k < right else "synthetic"
            rows.append(TrialRow(participant, f"{participant}-real-{k}", "real", answer))
        for name, (shown, fooled) in generators.items():
            for k in range(shown):
                rows.append(
                    TrialRow(
                        participant,
                        f"{name}-{participant}-{k}",
                        "synthetic",
                        "real" if k < fooled else "synthetic",
                        generator=name,
                    )
                )
    return rows


def _by_hand(name: str) -> dict[str, np.ndarray]:
    fooling, balanced, dprime = [], [], []
    for (real, right), generators in COUNTS.values():
        shown, fooled = generators[name]
        fooling.append(fooled / shown)
        balanced.append((right / real + (shown - fooled) / shown) / 2)
        hit = (shown - fooled + 0.5) / (shown + 1)
        false_alarm = (real - right + 0.5) / (real + 1)
        dprime.append(stats.norm.ppf(hit) - stats.norm.ppf(false_alarm))
    return {"fooling_rate": np.array(fooling), "balanced": balanced, "dprime": dprime}


@pytest.fixture(scope="module")
def result() -> dict:
    return report(_rows(), n_resamples=2000, model="none")


def test_each_generator_has_its_figures_computed_per_participant(result):
    entries = {entry["generator"]: entry for entry in result["by_generator"]}
    assert list(entries) == ["A", "B", "C"]
    for name, entry in entries.items():
        hand = _by_hand(name)
        fooling = entry["fooling_rate"]
        assert fooling["estimate"] == pytest.approx(hand["fooling_rate"].mean())
        assert fooling["p_vs_chance"] == pytest.approx(
            stats.ttest_1samp(hand["fooling_rate"], 0.5).pvalue
        )
        low, high = fooling["ci95"]
        assert 0 <= low <= fooling["estimate"] <= high <= 1
        fooled = sum(generators[name][1] for _, generators in COUNTS.values())
        shown = sum(generators[name][0] for _, generators in COUNTS.values())
        assert fooling["pooled"] == pytest.approx(fooled / shown)
        assert entry["balanced_accuracy"]["estimate"] == pytest.approx(np.mean(hand["balanced"]))
        assert entry["dprime"]["estimate"] == pytest.approx(np.mean(hand["dprime"]))
        assert (entry["participants"], entry["trials"], entry["images"]) == (5, shown, shown)
        assert entry["training_run"] is None and entry["checkpoints"][0]["checkpoint_step"] is None


def test_pairwise_differences_are_paired_t_tests_adjusted_by_holm(result):
    pairs = result["generator_comparisons"]
    assert [(p["generator_a"], p["generator_b"]) for p in pairs] == list(combinations("ABC", 2))
    raw = []
    for pair in pairs:
        a = _by_hand(pair["generator_a"])["fooling_rate"]
        b = _by_hand(pair["generator_b"])["fooling_rate"]
        assert pair["estimate"] == pytest.approx((a - b).mean())
        assert pair["p"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
        assert pair["participants"] == 5
        low, high = pair["ci95"]
        assert low <= pair["estimate"] <= high
        raw.append(pair["p"])
    holm = multipletests(raw, method="holm")[1]
    assert [pair["p_holm"] for pair in pairs] == pytest.approx(list(holm))
    # Holm is not Bonferroni here: the adjustment steps down.
    assert any(p_holm < min(1.0, p * 3) - 1e-12 for p_holm, p in zip(holm, raw, strict=True))


def test_the_bootstrap_interval_of_a_difference_is_the_spread_of_its_resamples():
    # Every participant is fooled by A 50 points more often than by B: no spread, no doubt.
    rows = []
    for p in range(6):
        for k in range(4):
            rows.append(TrialRow(p, f"A{p}{k}", "synthetic", "real" if k < 3 else "synthetic"))
            rows.append(TrialRow(p, f"B{p}{k}", "synthetic", "real" if k < 1 else "synthetic"))
        rows.append(TrialRow(p, f"R{p}", "real", "real"))
    rows = [_with_generator(row) for row in rows]
    (pair,) = report(rows, n_resamples=500, model="none")["generator_comparisons"]
    assert pair["estimate"] == pytest.approx(0.5)
    assert pair["ci95"] == pytest.approx([0.5, 0.5])
    assert pair["p"] is None and pair["p_holm"] is None  # no spread: the t-test is undefined


def _with_generator(row: TrialRow) -> TrialRow:
    if row.true_label != "synthetic":
        return row
    return TrialRow(row.participant, row.image, row.true_label, row.answer, generator=row.image[0])


def test_one_generator_has_no_comparisons_and_old_rows_group_by_run():
    rows = [TrialRow(p, f"s{p}", "synthetic", "real", training_run="run 1") for p in range(3)]
    rows += [TrialRow(p, f"r{p}", "real", "real") for p in range(3)]
    result = report(rows, n_resamples=200, model="none")
    assert [entry["generator"] for entry in result["by_generator"]] == ["run 1"]
    assert result["by_generator"][0]["training_run"] == "run 1"
    assert result["generator_comparisons"] == []


def _effects(seed: int = 4) -> list[TrialRow]:
    """Generator B's images fool more than A's; A has two checkpoints."""
    rng = np.random.default_rng(seed)
    images = [("real", None, None, i) for i in range(30)] + [
        ("synthetic", "A" if i < 20 else "B", 100 if i < 10 else 200, 30 + i) for i in range(40)
    ]
    rows = []
    for p in range(50):
        ability = rng.normal(0, 0.3)
        for i in rng.choice(len(images), 36, replace=False):
            label, generator, step, image = images[i]
            if label == "synthetic":
                logit = -0.3 + 1.2 * (generator == "B") - ability
            else:
                logit = 0.3 + ability
            answer = "real" if rng.random() < 1 / (1 + np.exp(-logit)) else "synthetic"
            rows.append(
                TrialRow(p, image, label, answer, checkpoint_step=step, generator=generator)
            )
    return rows


def test_the_mixed_model_has_the_generator_as_a_fixed_effect():
    model = report(_effects(), n_resamples=200, model="mixed")["model"]
    assert model["method"] == "mixed" and model["generator_reference"] == "A"
    (effect,) = [c for c in model["called_real"]["coefficients"] if c["factor"] == "generator"]
    assert (effect["level"], effect["reference"]) == ("B", "A")
    assert effect["log_odds"] > 0 and effect["p"] < 0.05


def test_one_generator_with_several_checkpoints_compares_its_checkpoints():
    rows = [row for row in _effects() if row.generator != "B"]
    model = report(rows, n_resamples=200, model="clustered")["model"]
    factors = {c["factor"] for c in model["called_real"]["coefficients"]}
    assert "checkpoint" in factors and "generator" not in factors
    (entry,) = report(rows, n_resamples=200, model="none")["by_generator"]
    assert [c["checkpoint_step"] for c in entry["checkpoints"]] == [100, 200]


# --- the same through the site: a study of two generators ---------------------------------


@pytest.fixture
def two_generator_study(db, make_study):
    """Four participants' whole sessions of a two-generator study, answered at random."""
    study = make_study(real=12, synthetic=12, generators=2, panels_per_round=4, results_public=True)
    rng = np.random.default_rng(0)
    for _ in range(4):
        participant = Client()
        consent(participant, study)
        while True:
            response = participant.get(reverse("quiz:round", args=[study.slug]))
            if response.status_code != 200:
                break
            round_ = study.participants.latest("pk").rounds.latest("index")
            answers = {}
            for panel in round_.panels.all():
                answers[f"panel-{panel.token}"] = "real" if rng.random() < 0.5 else "synthetic"
                answers[f"time-{panel.token}"] = "900"
            participant.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers)
    return study


def _fooling_by_hand(study) -> dict[str, float]:
    """Each generator's fooling rate, as the mean over participants, straight from the guesses."""
    rates: dict[str, dict[int, list[bool]]] = {}
    guesses = Guess.objects.filter(
        panel__round__participant__study=study, panel__image__kind="synthetic"
    ).values_list("panel__image__generator__name", "panel__round__participant_id", "answer")
    for name, participant, answer in guesses:
        rates.setdefault(name, {}).setdefault(participant, []).append(answer == "real")
    return {name: np.mean([np.mean(v) for v in by.values()]) for name, by in rates.items()}


def _study_report_json(*args) -> dict:
    out = io.StringIO()
    call_command("study_report", *args, "--json", stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_the_study_report_has_each_generators_fooling_rate(two_generator_study):
    result = _study_report_json(two_generator_study.slug)
    hand = _fooling_by_hand(two_generator_study)
    entries = {entry["generator"]: entry for entry in result["by_generator"]}
    assert set(entries) == set(hand) == {"run muscle", "elsewhere 2 muscle"}
    for name, entry in entries.items():
        assert entry["fooling_rate"]["estimate"] == pytest.approx(hand[name])
        assert len(entry["fooling_rate"]["ci95"]) == 2
        assert entry["participants"] == 4
    assert entries["run muscle"]["training_run"].startswith("run muscle (run #")
    assert entries["elsewhere 2 muscle"]["training_run"] is None
    assert entries["elsewhere 2 muscle"]["machine_observer"] is None
    (pair,) = result["generator_comparisons"]
    assert {pair["generator_a"], pair["generator_b"]} == set(hand)
    assert "2 generators" in _methods(two_generator_study)
    out = io.StringIO()
    call_command("study_report", two_generator_study.slug, stdout=out)
    summary = out.getvalue()
    for name in hand:
        assert f"fooling rate of {name}: {entries[name]['fooling_rate']['estimate']:.3f}" in summary
    assert "Holm-adjusted p" in summary or pair["p_holm"] is None


def _methods(study) -> str:
    from quiz.analysis.reports import methods_paragraph, study_report

    return methods_paragraph(study_report(study))


@pytest.mark.django_db
def test_the_trial_csv_names_each_synthetic_images_generator(two_generator_study, tmp_path):
    path = tmp_path / "trials.csv"
    call_command("export_trials", two_generator_study.slug, output=path, stderr=io.StringIO())
    rows = list(csv.DictReader(path.open()))
    names = {
        image.pk: image.generator.name
        for image in two_generator_study.images.all()
        if image.generator_id
    }
    for row in rows:
        assert row["generator"] == names.get(int(row["image"]), "")
    assert {row["generator"] for row in rows} == {"", *names.values()}

    from_csv = _study_report_json("--from-csv", str(path))
    from_db = _study_report_json(two_generator_study.slug)
    for csv_entry, db_entry in zip(from_csv["by_generator"], from_db["by_generator"], strict=True):
        assert csv_entry["generator"] == db_entry["generator"]
        assert csv_entry["fooling_rate"]["estimate"] == pytest.approx(
            db_entry["fooling_rate"]["estimate"]
        )
        assert csv_entry["fooling_rate"]["ci95"] == pytest.approx(db_entry["fooling_rate"]["ci95"])

    # A CSV from before generators: its runs are the generators.
    old = tmp_path / "old.csv"
    with old.open("w", newline="") as handle:
        fields = [name for name in rows[0] if name != "generator"]
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    without = _study_report_json("--from-csv", str(old))
    assert without["trials"] == from_db["trials"]
    assert len(without["by_generator"]) == 2  # the run's id, and the images of no run


@pytest.mark.django_db
def test_the_statistics_page_compares_the_generators(client, two_generator_study):
    page = client.get(reverse("quiz:stats", args=[two_generator_study.slug])).content.decode()
    assert 'id="generators"' in page and 'id="generator-comparisons"' in page
    assert "run muscle − elsewhere 2 muscle" in page or "elsewhere 2 muscle − run muscle" in page
    assert "Fooling rate by generator" in page
    chart = page[page.index('aria-label="Fooling rate by generator') :]
    chart = chart[: chart.index("</svg>")]
    assert chart.count("<circle") == 2
    assert "run muscle:" in chart and "elsewhere 2 muscle:" in chart
