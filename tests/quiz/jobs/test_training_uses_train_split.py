"""A training run sees only its dataset's train part, and records the images it saw."""

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

import ganengine
from ganengine import families
from quiz import jobs
from quiz.imaging import encode_png, pixel_sha256, render_panel
from quiz.models import Dataset, Image, ImageKind, JobStatus, Split, TrainingRun

pytestmark = pytest.mark.django_db


def _dataset(count: int, **fields) -> Dataset:
    dataset = Dataset.objects.create(name="muscle", **fields)
    rng = np.random.default_rng(0)
    for _ in range(count):
        pixels = rng.integers(0, 256, (40, 40), dtype=np.uint8)
        Image.objects.create(
            kind=ImageKind.REAL,
            dataset=dataset,
            width=40,
            height=40,
            sha256=pixel_sha256(pixels),
            file=ContentFile(encode_png(pixels), name="x.png"),
        )
    dataset.apply_split()
    return dataset


def _run(dataset: Dataset) -> TrainingRun:
    config = families.get("unconditional").preset("tiny", steps=2)
    return TrainingRun.objects.create(
        dataset=dataset, name="tiny", config=config.to_dict(), total_steps=config.steps
    )


def _as_panel(image: Image) -> str:
    return pixel_sha256(render_panel(image.pixels(), 32))


@pytest.fixture
def trained_pixels(monkeypatch) -> list[str]:
    """The pixel hashes of the arrays training is prepared from."""
    seen: list[str] = []
    prepare = ganengine.prepare_arrays

    def spy(arrays, resolution, channels=None):
        arrays = list(arrays)
        seen.extend(pixel_sha256(array) for array in arrays)
        return prepare(arrays, resolution, channels)

    monkeypatch.setattr(ganengine, "prepare_arrays", spy)
    return seen


def test_a_run_trains_on_the_train_part_only_and_records_those_images(trained_pixels):
    dataset = _dataset(8)
    train = set(dataset.images.filter(split=Split.TRAIN))
    run = _run(dataset)
    jobs.run_now(run)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert set(run.trained_images.all()) == train and len(train) == 6
    # Each as its panel is rendered (at the run's 32 px), not resampled another way.
    assert sorted(trained_pixels) == sorted(_as_panel(image) for image in train)


def test_a_retried_run_keeps_training_on_the_images_it_recorded(trained_pixels):
    dataset = _dataset(8)
    run = _run(dataset)
    jobs.run_now(run)
    recorded = set(run.trained_images.all())
    dataset.split_seed = 1
    dataset.apply_split()
    assert set(dataset.images.filter(split=Split.TRAIN)) != recorded

    TrainingRun.objects.filter(pk=run.pk).update(status=JobStatus.CANCELLED)
    assert jobs.retry(TrainingRun.objects.filter(pk=run.pk)).requeued
    jobs.run_now(run)
    assert set(run.trained_images.all()) == recorded
    assert len(trained_pixels) == 2 * len(recorded)
    assert set(trained_pixels) == {_as_panel(image) for image in recorded}


def test_a_dataset_without_train_images_fails_its_run_with_the_reason():
    dataset = _dataset(1, held_out_share=0.9)
    run = _run(dataset)
    jobs.run_now(run)
    assert run.status == JobStatus.FAILED and "all held out" in run.error
    assert "no images in its train part" in run.error
    assert not run.trained_images.exists()


def test_the_training_form_refuses_a_dataset_without_train_images(admin_client):
    dataset = _dataset(1, held_out_share=0.9)
    response = admin_client.post(
        reverse("admin:quiz_trainingrun_add"),
        {"dataset": dataset.pk, "name": "x", "preset": "unconditional:tiny"},
    )
    assert response.status_code == 200
    assert (
        "Dataset muscle has no images in its train part (0 train / 1 held out): lower its "
        "held-out share" in response.content.decode()
    )
    assert not TrainingRun.objects.exists()


def test_a_run_trains_on_the_panel_rectangle_of_a_non_rectangular_field(trained_pixels):
    dataset = _dataset(8, held_out_share=0.0)
    # A sector field stored in its bounding box: panels and training use the rectangle inside.
    dataset.images.update(panel_box=[5, 8, 35, 38])
    run = _run(dataset)
    jobs.run_now(run)
    assert run.status == JobStatus.SUCCEEDED, run.error
    inner = [pixel_sha256(render_panel(i.pixels()[8:38, 5:35], 32)) for i in dataset.images.all()]
    assert sorted(trained_pixels) == sorted(inner)
