from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from quiz.models import (
    Dataset,
    Expertise,
    Guess,
    Image,
    ImageKind,
    Participant,
    Round,
    RoundPanel,
    Study,
    TrainingRun,
)
from quiz.stats import (
    Proportion,
    binomial_test,
    sensitivity,
    summarize,
    wilson_interval,
)
from quiz.trials import study_trials, trial_rows


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
    ],
)
def test_wilson_interval_matches_published_values(successes, n, low, high):
    assert wilson_interval(successes, n) == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_with_no_trials_is_uninformative():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_never_leaves_the_unit_interval():
    for n in (1, 2, 7, 1000):
        for successes in (0, n):
            low, high = wilson_interval(successes, n)
            assert 0.0 <= low <= high <= 1.0


@pytest.mark.parametrize(
    ("successes", "n", "p_value"),
    [
        (8, 10, 0.109375),
        (2, 10, 0.109375),
        (0, 10, 0.001953125),
        (5, 10, 1.0),
        (60, 100, 0.05688793364098079),
        (5200, 10000, 6.593515598672442e-05),
        (0, 0, 1.0),
    ],
)
def test_binomial_test_matches_exact_two_sided_values(successes, n, p_value):
    assert binomial_test(successes, n) == pytest.approx(p_value, rel=1e-9)


def test_binomial_test_stays_finite_for_very_large_studies():
    assert 0.0 <= binomial_test(60_000, 100_000) < 1e-300
    assert binomial_test(50_000, 100_001) == pytest.approx(1.0, abs=0.01)


def test_sensitivity_applies_the_log_linear_correction():
    # Hits 8 of 10 synthetic, false alarms 3 of 10 real: H = 8.5/11, F = 3.5/11.
    result = sensitivity(hits=8, synthetic=10, false_alarms=3, real=10)
    assert result.d_prime == pytest.approx(0.7478586 - (-0.4727891), abs=1e-6)
    assert result.criterion == pytest.approx(-(0.7478586 - 0.4727891) / 2, abs=1e-6)


def test_sensitivity_is_finite_for_perfect_answers():
    result = sensitivity(hits=10, synthetic=10, false_alarms=0, real=10)
    assert result.d_prime == pytest.approx(3.3812433, abs=1e-6)


def test_sensitivity_needs_both_kinds_of_panel():
    assert sensitivity(hits=3, synthetic=5, false_alarms=0, real=0) is None


def test_proportion_formats_rate_and_interval():
    proportion = Proportion.of(5, 8)
    assert proportion.rate == 0.625
    assert str(proportion) == "62.5% (95% CI 30.6–86.3%)"
    assert str(Proportion.of(0, 0)) == "no trials"


def _real(dataset: Dataset, name: str) -> Image:
    return Image.objects.create(
        kind=ImageKind.REAL,
        file=ContentFile(b"png", name="x.png"),
        width=64,
        height=64,
        sha256=name,
        dataset=dataset,
        source_name=name,
    )


def _synthetic(run: TrainingRun, step: int, seed: int) -> Image:
    return Image.objects.create(
        kind=ImageKind.SYNTHETIC,
        file=ContentFile(b"png", name="x.png"),
        width=64,
        height=64,
        sha256=f"seed-{seed}",
        training_run=run,
        checkpoint_step=step,
        seed=seed,
    )


def _round(participant: Participant, answers, submitted: bool = True, times=()) -> Round:
    """A round whose panels A, B, ... show the given images, answered as given."""
    round_ = Round.objects.create(
        participant=participant,
        index=participant.rounds.count(),
        submitted_at=timezone.now() if submitted else None,
    )
    times = list(times) + [None] * len(answers)
    for letter, (image, answer), response_ms in zip("ABCDEFGHIJ", answers, times, strict=False):
        panel = RoundPanel.objects.create(round=round_, letter=letter, image=image)
        Guess.objects.create(
            panel=panel, answer=answer, correct=answer == image.kind, response_ms=response_ms
        )
    return round_


@pytest.fixture
def study(db):
    """Two participants with two submitted rounds each, one participant with only an open round.

    Submitted: 18 trials, 6 real (4 correct), 12 synthetic (6 judged real).
    """
    dataset = Dataset.objects.create(name="liver")
    r1, r2, r3, r4 = (_real(dataset, f"r{i}") for i in range(1, 5))
    run_a = TrainingRun.objects.create(dataset=dataset, name="dcgan-a")
    run_b = TrainingRun.objects.create(dataset=dataset, name="stylegan-b")
    s1, s2 = _synthetic(run_a, 1000, 1), _synthetic(run_a, 1000, 2)
    s3 = _synthetic(run_a, 2000, 3)
    s4 = _synthetic(run_b, 500, 4)
    study = Study.objects.create(name="Liver")
    study.images.set([r1, r2, r3, r4, s1, s2, s3, s4])
    sonographer = Participant.objects.create(study=study, expertise=Expertise.SONOGRAPHER)
    novice = Participant.objects.create(study=study, expertise=Expertise.NONE)
    undecided = Participant.objects.create(study=study)
    real, synthetic = "real", "synthetic"
    _round(
        sonographer,
        [(r1, real), (r2, real), (s1, synthetic), (s2, real), (s4, synthetic)],
        times=[1000, 2000, 3000, 4000, 5000],
    )
    _round(
        sonographer,
        [(r3, synthetic), (s1, real), (s3, synthetic), (s4, synthetic)],
        times=[10_000],
    )
    _round(
        novice,
        [(r1, real), (r4, synthetic), (s1, real), (s2, real), (s3, real), (s4, real)],
    )
    _round(novice, [(s1, synthetic), (s2, synthetic), (r2, real)])
    # Open rounds: answers that would change every figure if they were counted.
    _round(undecided, [(r1, synthetic), (s1, synthetic), (s2, synthetic)], submitted=False)
    _round(novice, [(s2, synthetic), (s4, synthetic)], submitted=False, times=[99_999])
    study.fakes = {"s1": s1, "s2": s2, "s3": s3, "s4": s4}
    study.runs = {"a": run_a, "b": run_b}
    return study


def test_summary_counts_only_submitted_rounds(study):
    summary = summarize(study_trials(study))
    assert (summary.participants, summary.rounds, summary.trials) == (2, 4, 18)


def test_summary_accuracy_and_fooling_rate(study):
    summary = summarize(study_trials(study))
    assert (summary.accuracy.successes, summary.accuracy.n) == (10, 18)
    assert summary.accuracy_p_value == pytest.approx(0.8145294189453125)
    assert (summary.real_accuracy.successes, summary.real_accuracy.n) == (4, 6)
    assert (summary.synthetic_accuracy.successes, summary.synthetic_accuracy.n) == (6, 12)
    assert (summary.fooling.successes, summary.fooling.n) == (6, 12)
    assert summary.fooling.low == pytest.approx(wilson_interval(6, 12)[0])


def test_summary_sensitivity_uses_synthetic_as_the_signal(study):
    # Hits 6 of 12, false alarms 2 of 6: H = 6.5/13 = 0.5, F = 2.5/7.
    summary = summarize(study_trials(study))
    assert summary.sensitivity.d_prime == pytest.approx(0.3661064, abs=1e-6)
    assert summary.sensitivity.criterion == pytest.approx(0.1830532, abs=1e-6)


def test_summary_fooling_rate_per_training_run_and_checkpoint(study):
    run_a, run_b = summarize(study_trials(study)).by_run
    assert (run_a.name, run_a.checkpoint_steps) == ("dcgan-a", (1000, 2000))
    assert (run_a.fooling.successes, run_a.fooling.n) == (5, 9)
    assert [(step, p.successes, p.n) for step, p in run_a.by_checkpoint] == [
        (1000, 4, 7),
        (2000, 1, 2),
    ]
    assert (run_b.name, run_b.checkpoint_steps, run_b.by_checkpoint) == ("stylegan-b", (500,), ())
    assert (run_b.fooling.successes, run_b.fooling.n) == (1, 3)


def test_summary_splits_by_expertise(study):
    rows = {row.expertise: row for row in summarize(study_trials(study)).by_expertise}
    assert list(rows) == [choice for choice, _ in Expertise.choices]
    sonographer, novice = rows[Expertise.SONOGRAPHER], rows[Expertise.NONE]
    assert sonographer.participants == 1
    assert (sonographer.accuracy.successes, sonographer.accuracy.n) == (6, 9)
    assert (sonographer.fooling.successes, sonographer.fooling.n) == (2, 6)
    assert (novice.accuracy.successes, novice.accuracy.n) == (4, 9)
    assert (novice.fooling.successes, novice.fooling.n) == (4, 6)
    # The undecided participant only has an open round.
    assert rows[Expertise.UNSPECIFIED].participants == 0
    assert rows[Expertise.UNSPECIFIED].accuracy.rate is None


def test_hardest_fakes_are_ordered_by_fooling_rate_with_enough_trials(study):
    fakes = summarize(study_trials(study)).hardest_fakes
    s1, s2, s4 = study.fakes["s1"], study.fakes["s2"], study.fakes["s4"]
    # s3 was shown only twice, fewer than the three trials a ranking needs.
    assert [(f.image_id, f.fooling.successes, f.fooling.n) for f in fakes] == [
        (s2.pk, 2, 3),
        (s1.pk, 2, 4),
        (s4.pk, 1, 3),
    ]
    assert (fakes[0].training_run_name, fakes[0].checkpoint_step) == ("dcgan-a", 1000)


def test_hardest_fakes_threshold_is_adjustable(study):
    fakes = summarize(study_trials(study), min_fake_trials=2).hardest_fakes
    assert study.fakes["s3"].pk in [fake.image_id for fake in fakes]


def test_median_response_time_ignores_unmeasured_and_open_rounds(study):
    assert summarize(study_trials(study)).median_response_ms == 3500


def test_summary_of_a_study_without_trials(db):
    summary = summarize(study_trials(Study.objects.create(name="Empty")))
    assert (summary.participants, summary.rounds, summary.trials) == (0, 0, 0)
    assert summary.accuracy.rate is None
    assert summary.accuracy_p_value == 1.0
    assert summary.sensitivity is None
    assert summary.by_run == [] and summary.hardest_fakes == []
    assert summary.median_response_ms is None


def test_trial_rows_describe_each_submitted_guess(study):
    rows = list(trial_rows(study))
    assert len(rows) == 18
    first = rows[0]
    assert first["letter"] == "A"
    assert first["true_label"] == "real"
    assert first["answer"] == "real"
    assert first["correct"] == 1
    assert first["training_run"] is None
    assert first["response_ms"] == 1000
    assert (first["study"], first["round"], first["practice"], first["catch"]) == (
        study.slug,
        1,
        0,
        0,
    )
    fooled = next(row for row in rows if row["image"] == study.fakes["s2"].pk)
    assert fooled["true_label"] == "synthetic"
    assert fooled["answer"] == "real"
    assert fooled["correct"] == 0
    assert fooled["training_run"] == study.runs["a"].pk
    assert (fooled["checkpoint_step"], fooled["seed"]) == (1000, 2)
    assert {row["expertise"] for row in rows} == {"sonographer", "none"}


def test_trial_rows_are_in_submission_order(study):
    Round.objects.filter(participant__expertise=Expertise.NONE).update(
        submitted_at=timezone.now() - timedelta(days=1)
    )
    rows = list(trial_rows(study))
    assert rows[0]["expertise"] == "none"
    submitted = [row["submitted_at"] for row in rows]
    assert submitted == sorted(submitted)
