"""A generic-profile dataset and a generator of colour (or grey) images, stored as canonical PNGs,
for the colour studies' tests: real images split held out | train, a run here that trained on the
train part, and its synthetic images."""

from __future__ import annotations

import numpy as np
from django.core.files.base import ContentFile
from PIL import Image as PILImage

from quiz.imaging import channels_of, encode_png, pixel_sha256
from quiz.models import Dataset, Generator, Image, ImageKind, ImageProfile, Split, TrainingRun

GREY, COLOUR = "grey", "colour"


def colour_pixels(seed: int, size: int, tint: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """uint8 size x size x 3: a smooth random colour field with fine noise, shifted by `tint`."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 216, size=(6, 6, 3), dtype=np.uint8)
    field = np.asarray(
        PILImage.fromarray(coarse, mode="RGB").resize((size, size), PILImage.Resampling.BILINEAR),
        dtype=np.float64,
    )
    noisy = field + rng.normal(0, 12, size=field.shape) + np.array(tint, dtype=np.float64)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def grey_pixels(seed: int, size: int) -> np.ndarray:
    """The luminance of colour_pixels: uint8 size x size."""
    pixels = colour_pixels(seed, size)
    return np.asarray(PILImage.fromarray(pixels, mode="RGB").convert("L"), dtype=np.uint8)


def pixels_of(mode: str, seed: int, size: int, tint=(0, 0, 0)) -> np.ndarray:
    return colour_pixels(seed, size, tint) if mode == COLOUR else grey_pixels(seed, size)


def store(kind: str, pixels: np.ndarray, **fields) -> Image:
    """An Image row of canonical PNG pixels, its channels from the pixels (as ingest sets them)."""
    height, width = pixels.shape[:2]
    fields.setdefault("source_format", "PNG")
    return Image.objects.create(
        kind=kind,
        width=width,
        height=height,
        channels=channels_of(pixels),
        sha256=pixel_sha256(pixels),
        file=ContentFile(encode_png(pixels), name="image.png"),
        **fields,
    )


class ColourWorld:
    """`held_out` real images (modes cycling through `real_modes`), 6 train-part ones, a run that
    trained on the train part, and `synthetic` images of it in `synthetic_mode` (tinted by
    `synthetic_tint`)."""

    def __init__(
        self,
        *,
        name: str = "faces",
        real_modes: tuple[str, ...] = (COLOUR,),
        synthetic_mode: str = COLOUR,
        held_out: int = 20,
        synthetic: int = 20,
        size: int = 40,
        synthetic_tint: tuple[int, int, int] = (0, 0, 0),
    ) -> None:
        self.dataset = Dataset.objects.create(name=name, profile=ImageProfile.GENERIC)
        self.held_out = [
            store(
                ImageKind.REAL,
                pixels_of(real_modes[i % len(real_modes)], seed=i, size=size),
                dataset=self.dataset,
                split=Split.HELD_OUT,
                source_name=f"held{i}.png",
            )
            for i in range(held_out)
        ]
        self.train = [
            store(
                ImageKind.REAL,
                pixels_of(real_modes[0], seed=1000 + i, size=size),
                dataset=self.dataset,
                split=Split.TRAIN,
                source_name=f"train{i}.png",
            )
            for i in range(6)
        ]
        self.run = TrainingRun.objects.create(
            dataset=self.dataset, name=f"{name} GAN", step=50, config={"resolution": size}
        )
        self.run.trained_images.set(self.train)
        self.synthetic = [
            store(
                ImageKind.SYNTHETIC,
                pixels_of(synthetic_mode, seed=5000 + i, size=size, tint=synthetic_tint),
                training_run=self.run,
                checkpoint_step=50,
                seed=i,
                source_format="GENERATED",
            )
            for i in range(synthetic)
        ]
        self.generator = Generator.objects.get(training_run=self.run)
