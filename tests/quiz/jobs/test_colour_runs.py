"""A training run on colour images trains an RGB generator, and its generation stores RGB."""

import numpy as np
import pytest
from django.core.files.base import ContentFile

import ganengine
from ganengine import families
from quiz import jobs
from quiz.imaging import channels_of, encode_png, pixel_sha256
from quiz.models import Dataset, GenerationJob, Image, ImageKind, JobStatus, TrainingRun

pytestmark = pytest.mark.django_db


def _dataset(colour: int, grey: int) -> Dataset:
    dataset = Dataset.objects.create(name="colour", held_out_share=0.0)
    rng = np.random.default_rng(0)
    shapes = [(40, 40, 3)] * colour + [(40, 40)] * grey
    for shape in shapes:
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        Image.objects.create(
            kind=ImageKind.REAL,
            dataset=dataset,
            width=40,
            height=40,
            channels=channels_of(pixels),
            sha256=pixel_sha256(pixels),
            file=ContentFile(encode_png(pixels), name="x.png"),
        )
    dataset.apply_split()
    return dataset


def _run(dataset: Dataset, family: str = "unconditional") -> TrainingRun:
    preset = families.get(family).preset("tiny", steps=2)
    return TrainingRun.objects.create(
        dataset=dataset,
        name="tiny",
        family=family,
        config=preset.to_dict(),
        total_steps=preset.steps,
    )


@pytest.fixture
def prepared(monkeypatch) -> list:
    """The tensors training is prepared as."""
    seen = []
    prepare = ganengine.prepare_arrays

    def spy(arrays, resolution, channels=None):
        seen.append(prepare(arrays, resolution, channels))
        return seen[-1]

    monkeypatch.setattr(ganengine, "prepare_arrays", spy)
    return seen


def test_a_colour_dataset_trains_rgb_and_its_generation_stores_rgb_images(prepared):
    run = _run(_dataset(colour=5, grey=0))
    reports = []
    jobs.run_now(run, report=reports.append)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.config["channels"] == 3
    assert prepared[0].shape == (5, 3, 32, 32)
    assert not any("grey training image" in line for line in reports)

    job = jobs.run_now(GenerationJob.objects.create(training_run=run, count=2, first_seed=3))
    assert job.status == JobStatus.SUCCEEDED, job.error
    generated = list(run.images.filter(kind=ImageKind.SYNTHETIC).order_by("seed"))
    assert [image.seed for image in generated] == [3, 4]
    for image in generated:
        pixels = image.pixels()
        assert image.channels == 3 and pixels.shape == (32, 32, 3)
        assert image.sha256 == pixel_sha256(pixels)


def test_grey_images_join_a_colour_run_as_rgb_and_the_log_says_so(prepared):
    run = _run(_dataset(colour=3, grey=2))
    reports = []
    jobs.run_now(run, report=reports.append)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.config["channels"] == 3
    (data,) = prepared
    assert data.shape == (5, 3, 32, 32)
    grey_as_rgb = [x for x in data if torch_equal_channels(x)]
    assert len(grey_as_rgb) == 2  # the grey images, as three equal channels
    assert any("2 grey training image(s) join 3 RGB ones" in line for line in reports)


def test_a_grey_dataset_trains_a_grey_generator_as_before(prepared):
    run = _run(_dataset(colour=0, grey=4))
    jobs.run_now(run)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.config["channels"] == 1 and prepared[0].shape == (4, 1, 32, 32)
    job = jobs.run_now(GenerationJob.objects.create(training_run=run, count=1))
    assert job.status == JobStatus.SUCCEEDED, job.error
    (image,) = run.images.filter(kind=ImageKind.SYNTHETIC)
    assert image.channels == 1 and image.pixels().shape == (32, 32)


def test_the_mask_to_image_family_refuses_colour_images_with_the_reason():
    run = _run(_dataset(colour=2, grey=2), family="mask_to_image")
    jobs.run_now(run)
    assert run.status == JobStatus.FAILED
    assert "trains on grey images only" in run.error and "2 of the images" in run.error


def torch_equal_channels(x) -> bool:
    return bool((x[0] == x[1]).all() and (x[0] == x[2]).all())
