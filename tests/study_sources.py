"""A dataset and two generators, trained here and elsewhere, for the study builder tests."""

import numpy as np
from django.core.files.base import ContentFile

from quiz.imaging import encode_png, pixel_sha256
from quiz.models import Dataset, Generator, Image, ImageKind, Review, Split, TrainingRun

_rng = np.random.default_rng(7)


def make_image(kind: str, size: int = 32, **fields) -> Image:
    pixels = _rng.integers(0, 256, size=(size, size), dtype=np.uint8)
    return Image.objects.create(
        kind=kind,
        width=size,
        height=size,
        sha256=pixel_sha256(pixels),
        source_sha256=fields.pop("source_sha256", ""),
        file=ContentFile(encode_png(pixels), name="image.png"),
        **fields,
    )


class World:
    """A dataset (12 held out, 4 train, one excluded, one flagged), a run here, one from elsewhere.

    The run trained on the train part and on held-out #0 (a re-split since); the external
    generator's manifest names held-out #1 by pixels and held-out #2 by its source frame.
    """

    def __init__(self, run_images: int = 10, external_images: int = 8, size: int = 32) -> None:
        self.dataset = Dataset.objects.create(name="muscle")
        real = ImageKind.REAL
        self.held_out = [
            make_image(
                real,
                dataset=self.dataset,
                split=Split.HELD_OUT,
                source_name=f"held{i}.png",
                source_sha256=f"{i:064x}",
            )
            for i in range(12)
        ]
        self.train = [
            make_image(real, dataset=self.dataset, split=Split.TRAIN, source_name=f"train{i}.png")
            for i in range(4)
        ]
        self.excluded = make_image(
            real, dataset=self.dataset, review=Review.EXCLUDED, source_name="excluded.png"
        )
        self.flagged = make_image(
            real,
            dataset=self.dataset,
            flags=[{"code": "colour-flow", "reason": "colour Doppler overlay"}],
            source_name="doppler.png",
        )
        self.run = TrainingRun.objects.create(dataset=self.dataset, name="FastGAN 1", step=60)
        self.run.trained_images.set([*self.train, self.held_out[0]])
        for seed in range(run_images):
            make_image(
                ImageKind.SYNTHETIC, size=size, training_run=self.run, checkpoint_step=60, seed=seed
            )
        self.fastgan = Generator.objects.get(training_run=self.run)
        self.external = Generator.objects.create(
            name="StyleGAN elsewhere",
            trained_on=self.dataset,
            manifest_hashes=[self.held_out[1].sha256, self.held_out[2].source_sha256],
        )
        for i in range(external_images):
            make_image(
                ImageKind.SYNTHETIC, size=size, generator=self.external, source_name=f"fake{i}.png"
            )

    @property
    def generators(self) -> list[Generator]:
        return [self.fastgan, self.external]
