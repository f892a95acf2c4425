"""Studies whose classes differ in one known low-level way, for the cue audit's tests and
benchmarks/resolution_cue.py: phantom speckle scans (tests/phantoms.py) as real and synthetic
images, at the sizes, sharpness and source formats a test asks for."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from django.core.files.base import ContentFile
from PIL import Image as PILImage

from quiz.imaging import decode_png, encode_png, pixel_sha256
from quiz.models import Dataset, Image, ImageKind, Split, Study, TrainingRun
from tests.phantoms import speckle_scan

Pixels = Callable[[int], np.ndarray]  # seed -> uint8 H x W


def speckle(size: int, blur: float = 0.0) -> Pixels:
    return lambda seed: speckle_scan(seed, size, blur=blur)


def jpeg(pixels: Pixels, quality: int = 60) -> Pixels:
    """The pixels after a round trip through JPEG at this quality (its 8 x 8 blocks)."""

    def encoded(seed: int) -> np.ndarray:
        buffer = io.BytesIO()
        PILImage.fromarray(pixels(seed), mode="L").save(buffer, format="JPEG", quality=quality)
        with PILImage.open(io.BytesIO(buffer.getvalue())) as image:
            return np.asarray(image.convert("L"), dtype=np.uint8).copy()

    return encoded


def store(kind: str, pixels: np.ndarray, **fields) -> Image:
    height, width = pixels.shape
    return Image.objects.create(
        kind=kind,
        width=width,
        height=height,
        sha256=pixel_sha256(pixels),
        file=ContentFile(encode_png(pixels), name="image.png"),
        **fields,
    )


class CueStudy:
    """A study of held-out real images and a run's synthetic images, built in steps as staff do:
    create it from the real images, then add the synthetic ones."""

    def __init__(self, slug: str = "cues", run_config: dict | None = None):
        self.dataset = Dataset.objects.create(name=f"dataset {slug}")
        self.run = TrainingRun.objects.create(
            dataset=self.dataset, name=f"generator {slug}", step=100, config=run_config or {}
        )
        # What the run trained on: train-part images, never shown (the held-out rule holds).
        self.run.trained_images.set(
            store(ImageKind.REAL, speckle_scan(10_000 + i, 40), dataset=self.dataset, split="train")
            for i in range(4)
        )
        self.study = Study.objects.create(name=f"Study {slug}", slug=slug, feedback="none")
        self._seed = 0

    def _next_seed(self) -> int:
        self._seed += 1
        return self._seed

    def add_real(self, count: int, pixels: Pixels, source_format: str = "PNG") -> list[Image]:
        images = [
            store(
                ImageKind.REAL,
                pixels(self._next_seed()),
                dataset=self.dataset,
                split=Split.HELD_OUT,
                source_format=source_format,
            )
            for _ in range(count)
        ]
        self.study.images.add(*images)
        return images

    def add_synthetic(self, count: int, pixels: Pixels, source_format: str = "PNG") -> list[Image]:
        images = [
            store(
                ImageKind.SYNTHETIC,
                pixels(self._next_seed()),
                training_run=self.run,
                checkpoint_step=100,
                seed=self._seed,
                source_format=source_format,
            )
            for _ in range(count)
        ]
        self.study.images.add(*images)
        return images

    def refreshed(self) -> Study:
        self.study.refresh_from_db()
        return self.study


def served_pixels(study: Study, image: Image) -> np.ndarray:
    """The stored panel bytes of an image, decoded: what a participant is shown."""
    panel = study.panels.get(image=image)
    with panel.file.open("rb") as handle:
        return decode_png(handle.read())
