"""Shared fixtures: isolated media and cache, studies of real and synthetic images, S3 buckets."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.base import ContentFile

from tests.s3server import (
    S3Bucket,
    SwiftS3Server,
    cluster_folder,
    create_bucket,
    default_data_dirs,
    empty_and_delete_bucket,
    missing_binaries,
    xattr_capable_dir,
)

SHARED_DATA = Path(settings.BASE_DIR).parent / "shared" / "data"
MUSCLE_IMAGES = SHARED_DATA / "muscle-us" / "images"


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # A cache of each test's own, in memory: the site's database cache would need the database in
    # tests that have none, and rate-limit counters must not carry over from test to test.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": str(tmp_path),
        }
    }


@pytest.fixture
def muscle_images() -> Path:
    if not MUSCLE_IMAGES.is_dir():
        pytest.skip(f"real test images not found at {MUSCLE_IMAGES} (../shared/data is absent)")
    return MUSCLE_IMAGES


def _pixels(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.integers(0, 256, size=(size, size), dtype=np.uint8)


# The train part of a make_study dataset: what its run trained on, never shown in the study.
TRAINED_IMAGES = 4


@pytest.fixture
def make_study(db):
    """Builds a published study with the given numbers of real and synthetic images.

    It meets the held-out rule: its real images are its dataset's held-out part, and its run
    trained on TRAINED_IMAGES other, train-part images of the dataset.

    `generators` > 1 deals the synthetic images in turn to that many generators: the run's,
    then generators trained elsewhere ("elsewhere 2", ...) whose manifests name the same
    train-part images.
    """
    from quiz.imaging import encode_png, pixel_sha256
    from quiz.models import Dataset, Generator, Image, ImageKind, Split, Study, TrainingRun
    from quiz.studies.panels import render_study_panels

    def build(
        real: int = 12,
        synthetic: int = 12,
        slug: str = "muscle",
        size: int = 48,
        feedback: str = "key",
        generators: int = 1,
        **settings,
    ) -> Study:
        rng = np.random.default_rng(len(slug))
        dataset = Dataset.objects.create(name=f"dataset {slug}")
        run = TrainingRun.objects.create(dataset=dataset, name=f"run {slug}", step=100)
        elsewhere = [
            Generator.objects.create(name=f"elsewhere {k} {slug}", trained_on=dataset)
            for k in range(2, generators + 1)
        ]

        def image(kind: str, split: str = "", seed: int | None = None, source: int = 0) -> Image:
            pixels = _pixels(rng, size)
            from_run = kind == ImageKind.SYNTHETIC and source == 0
            return Image.objects.create(
                kind=kind,
                dataset=dataset if kind == ImageKind.REAL else None,
                split=split,
                training_run=run if from_run else None,
                generator=elsewhere[source - 1] if source else None,
                checkpoint_step=100 if from_run else None,
                seed=seed,
                width=size,
                height=size,
                sha256=pixel_sha256(pixels),
                file=ContentFile(encode_png(pixels), name="image.png"),
            )

        images = [image(ImageKind.REAL, Split.HELD_OUT) for _ in range(real)]
        images += [
            image(ImageKind.SYNTHETIC, seed=real + index, source=index % generators)
            for index in range(synthetic)
        ]
        trained = [image(ImageKind.REAL, Split.TRAIN) for _ in range(TRAINED_IMAGES)]
        run.trained_images.set(trained)
        manifest = sorted({h for t in trained for h in (t.sha256, t.source_sha256) if h})
        for generator in elsewhere:
            generator.manifest_hashes = manifest
            generator.save(update_fields=["manifest_hashes"])
        study = Study.objects.create(
            name=f"Study {slug}", slug=slug, panel_size=size, feedback=feedback, **settings
        )
        study.images.set(images)
        render_study_panels(study)
        study.is_published = True
        study.save()
        return study

    return build


@pytest.fixture
def sent_tasks(monkeypatch) -> dict[str, list[int]]:
    """Job announcements sent to the broker, by task name: {"quiz.tasks.train_run": [pk, ...]}."""
    from collections import defaultdict

    from webapp.celery import app

    sent: dict[str, list[int]] = defaultdict(list)
    monkeypatch.setattr(app, "send_task", lambda name, args, **_: sent[name].append(args[0]))
    return sent


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[SwiftS3Server]:
    """A private OpenStack Swift cluster with the S3 API on loopback, for the whole test run."""
    missing = missing_binaries()
    if missing:
        pytest.skip(
            f"OpenStack Swift is not installed ({', '.join(missing)} not found): "
            "apt-get install swift swift-proxy swift-object swift-container swift-account"
        )
    # Swift keeps object metadata in user xattrs: /dev/shm or pytest's temp folder, if they
    # have them, else var/ of the checkout.
    folder = xattr_capable_dir(
        *default_data_dirs(tmp_path_factory.getbasetemp()), Path(settings.BASE_DIR) / "var"
    )
    with cluster_folder(folder) as root, SwiftS3Server(root) as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server, settings) -> Iterator[S3Bucket]:
    """A fresh private bucket, made Django's default storage for the test.

    `s3_bucket.env` points a subprocess (a Celery worker, manage.py) at the same bucket.
    """
    bucket = create_bucket(s3_server)
    settings.STORAGES = {**settings.STORAGES, "default": bucket.storage_settings}
    yield bucket
    empty_and_delete_bucket(bucket.client, bucket.name)


@pytest.fixture
def toy_family():
    """A model family from outside ganengine (tests/ganengine/toy_family.py), registered."""
    from ganengine import families
    from tests.ganengine.toy_family import ToyFamily

    family = families.register(ToyFamily())
    yield family
    families.unregister(family.name)
