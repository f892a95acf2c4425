"""A study's trials read from the database: submitted rounds only, with their provenance."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from quiz.analysis.trials import trial_rows
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
