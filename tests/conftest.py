"""Shared fixtures: isolated media, and studies with real and synthetic images."""

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile

SHARED_DATA = Path(settings.BASE_DIR).parent / "shared" / "data"
MUSCLE_IMAGES = SHARED_DATA / "muscle-us" / "images"


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


@pytest.fixture
def muscle_images() -> Path:
    if not MUSCLE_IMAGES.is_dir():
        pytest.skip(f"real test images not found at {MUSCLE_IMAGES} (../shared/data is absent)")
    return MUSCLE_IMAGES


def _pixels(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.integers(0, 256, size=(size, size), dtype=np.uint8)


@pytest.fixture
def make_study(db):
    """Builds a published study with the given numbers of real and synthetic images."""
    from quiz.imaging import encode_png, pixel_sha256
    from quiz.models import Dataset, Image, ImageKind, Study, TrainingRun
    from quiz.panels import render_study_panels

    def build(
        real: int = 12,
        synthetic: int = 12,
        slug: str = "muscle",
        size: int = 48,
        feedback: str = "key",
        **settings,
    ) -> Study:
        rng = np.random.default_rng(len(slug))
        dataset = Dataset.objects.create(name=f"dataset {slug}")
        run = TrainingRun.objects.create(dataset=dataset, name=f"run {slug}", step=100)
        images = []
        for index in range(real + synthetic):
            pixels = _pixels(rng, size)
            kind = ImageKind.REAL if index < real else ImageKind.SYNTHETIC
            images.append(
                Image.objects.create(
                    kind=kind,
                    dataset=dataset if kind == ImageKind.REAL else None,
                    training_run=run if kind == ImageKind.SYNTHETIC else None,
                    checkpoint_step=100 if kind == ImageKind.SYNTHETIC else None,
                    seed=index if kind == ImageKind.SYNTHETIC else None,
                    width=size,
                    height=size,
                    sha256=pixel_sha256(pixels),
                    file=ContentFile(encode_png(pixels), name="image.png"),
                )
            )
        study = Study.objects.create(
            name=f"Study {slug}", slug=slug, panel_size=size, feedback=feedback, **settings
        )
        study.images.set(images)
        render_study_panels(study)
        study.is_published = True
        study.save()
        return study

    return build
