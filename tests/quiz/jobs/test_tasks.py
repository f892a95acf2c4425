"""The GAN jobs, run in this process through quiz.jobs: each model family trains and generates."""

import math

import numpy as np
import pytest
from django.urls import reverse

from ganengine import families
from ganengine.masks import APONEUROSIS, BACKGROUND, FASCICLE
from quiz import jobs
from quiz.imaging import decode_png
from quiz.models import (
    Dataset,
    EvaluationJob,
    GenerationJob,
    ImageKind,
    JobStatus,
    TrainingRun,
)

pytestmark = pytest.mark.django_db


def _trained(family: str, preset: str = "tiny", **overrides) -> TrainingRun:
    config = families.get(family).preset(preset, **overrides)
    run = TrainingRun.objects.create(
        dataset=Dataset.objects.get(),
        name=family,
        family=family,
        config=config.to_dict(),
        total_steps=config.steps,
    )
    return jobs.run_now(run)


def test_an_unconditional_run_trains_and_generates_images_without_masks(make_study):
    make_study()
    run = _trained("unconditional", steps=4)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert (run.step, run.attempts) == (4, 1)
    assert run.metrics["step"][-1] == 4 and set(run.metrics) >= {"d", "g"}
    assert run.samples

    job = GenerationJob.objects.create(training_run=run, count=3, first_seed=10)
    jobs.run_now(job)
    assert (job.status, job.produced) == (JobStatus.SUCCEEDED, 3)
    images = run.images.order_by("seed")
    assert [image.seed for image in images] == [10, 11, 12]
    assert all(image.kind == ImageKind.SYNTHETIC and not image.mask for image in images)
    assert {(image.width, image.height) for image in images} == {(32, 32)}


def test_a_mask_to_image_run_stores_each_image_with_its_label_mask(make_study, admin_client):
    make_study()
    run = _trained("mask_to_image", steps=3)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert set(run.metrics) >= {"cycle", "hist"}

    job = GenerationJob.objects.create(training_run=run, count=2)
    jobs.run_now(job)
    image = run.images.order_by("seed").first()
    with image.mask.open("rb") as handle:
        labels = decode_png(handle.read())
    assert labels.shape == (image.height, image.width) == (32, 32)
    assert set(np.unique(labels)) <= {BACKGROUND, APONEUROSIS, FASCICLE}
    assert APONEUROSIS in labels

    shown = admin_client.get(reverse("quiz:staff_image_mask", args=[image.pk]))
    assert shown.status_code == 200
    assert set(np.unique(decode_png(shown.content))) <= {0, 128, 255}


def test_a_family_registered_in_ganengine_trains_and_generates_with_nothing_added_here(
    make_study, toy_family
):
    make_study()
    run = _trained(toy_family.name)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert (run.family, run.step) == ("toy_mean", 6)
    assert run.checkpoint and run.samples and run.metrics["step"][-1] == 6
    assert "distance" in run.metrics

    job = GenerationJob.objects.create(training_run=run, count=2, first_seed=4)
    jobs.run_now(job)
    assert (job.status, job.produced) == (JobStatus.SUCCEEDED, 2)
    images = run.images.order_by("seed")
    assert [image.seed for image in images] == [4, 5]
    assert {(image.width, image.height) for image in images} == {(16, 16)}
    assert not any(image.mask for image in images)


def test_a_run_on_an_empty_dataset_fails_with_its_reason():
    dataset = Dataset.objects.create(name="empty")
    config = families.get("unconditional").preset("tiny", steps=2)
    run = TrainingRun.objects.create(dataset=dataset, name="x", config=config.to_dict())
    jobs.run_now(run)
    assert run.status == JobStatus.FAILED
    assert "has no images to train on" in run.error


def test_cancelling_stops_training_and_keeps_a_checkpoint(make_study):
    make_study()
    config = families.get("unconditional").preset("tiny", steps=500)
    run = TrainingRun.objects.create(
        dataset=Dataset.objects.get(), name="long", config=config.to_dict(), total_steps=500
    )
    TrainingRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    jobs.run_now(run)
    assert run.status == JobStatus.CANCELLED
    assert run.step < 500 and run.checkpoint


def test_a_finished_run_is_evaluated_against_held_out_images(make_study):
    make_study(real=12, synthetic=0)  # 12 held-out images; the run trained on 4 others
    run = _trained("unconditional", steps=4)
    job = jobs.run_now(EvaluationJob.objects.get(training_run=run))  # queued when the run ended
    run.refresh_from_db()
    evaluation = run.evaluation
    assert job.status == JobStatus.SUCCEEDED and "error" not in evaluation, evaluation
    assert (evaluation["n_generated"], evaluation["real"]) == (12, "held-out images")
    assert 0.0 <= evaluation["c2st_auc"] <= 1.0
    assert math.isfinite(evaluation["kid"])


def test_an_evaluation_that_cannot_run_records_why_on_the_run(make_study):
    make_study(real=2, synthetic=0)
    run = _trained("unconditional", steps=2)
    job = jobs.run_now(EvaluationJob.objects.get(training_run=run))
    run.refresh_from_db()
    assert job.status == JobStatus.FAILED and "needs at least 4 held-out" in job.error
    assert "needs at least 4 held-out" in run.evaluation["error"]
