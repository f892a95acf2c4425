"""Datasets of real scans and their images: canonical PNGs with provenance, crop and review.

Synthetic images are Images too (kind "synthetic", from a TrainingRun's checkpoint), so that a
study draws both classes from one table and serves them identically.
"""

import hashlib
from itertools import groupby

import numpy as np
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from quiz.imaging import decode_png
from quiz.models.jobs import UploadJob
from quiz.models.tokens import random_png_name


class Split(models.TextChoices):
    TRAIN = "train", "Train (generators see it)"
    HELD_OUT = "held_out", "Held out (real panels of studies)"


class ImageProfile(models.TextChoices):
    """What ingest does to a dataset's files (quiz.ingest.profiles)."""

    ULTRASOUND = "ultrasound", "Ultrasound: field-of-view crop, B-mode checks, grey panels"
    GENERIC = "generic", "Any 2-D image: kept whole, grey or colour, no ultrasound checks"


class Dataset(models.Model):
    name = models.CharField(max_length=200, unique=True)
    profile = models.CharField(
        max_length=16,
        choices=ImageProfile.choices,
        default=ImageProfile.ULTRASOUND,
        help_text="Ultrasound finds the imaging field, crops the scanner's overlays and flags "
        "colour Doppler; generic keeps each image as it is, in colour when it has colour.",
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    held_out_share = models.FloatField(
        default=0.25,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.9)],
        help_text="Share of the real images kept out of training: the real panels of studies "
        "come from this part.",
    )
    split_seed = models.PositiveIntegerField(
        default=0, help_text="Changing the seed or the share draws the split afresh."
    )
    frames_per_file = models.PositiveSmallIntegerField(
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="From a cine loop (multi-frame DICOM, multi-page TIFF, animated PNG or GIF) "
        "ingest keeps this many frames, evenly spaced, each as an image. Frames of one file "
        "always land in the same part of the split.",
    )

    def __str__(self) -> str:
        return self.name

    def apply_split(self) -> None:
        """Assign every usable real image to train or held-out: a seeded ranking, the share.

        Images staff excluded, and flagged images they have not accepted (Image.is_usable),
        belong to no part, so no training run and no study takes them.

        Each image's rank comes from a hash of the seed and its pixels, so the split is the same
        on every machine and does not depend on upload order. A run records the images it
        trained on (TrainingRun.trained_images), so re-splitting later can never smuggle a
        training image into a study: publishing checks that record, not the current split.
        """
        images = list(
            self.images.filter(kind=ImageKind.REAL).only(
                "pk", "sha256", "split", "source_key", "review", "flags"
            )
        )
        usable = [image for image in images if image.is_usable]
        for image in images:
            image.split = ""  # excluded, or flagged and not accepted: in no part
        # Frames of one file share a rank (source_key), so they always land in the same part:
        # a held-out frame must never have its neighbour in the training set.
        usable.sort(key=lambda image: (split_rank(self.split_seed, image.split_key), image.pk))
        target, held_out = round(len(usable) * self.held_out_share), 0
        for _, group in groupby(usable, key=lambda image: image.split_key):
            members = list(group)
            part = Split.HELD_OUT if held_out < target else Split.TRAIN
            held_out += len(members) if part == Split.HELD_OUT else 0
            for image in members:
                image.split = part
        Image.objects.bulk_update(images, ["split"], batch_size=500)


def split_rank(seed: int, sha256: str) -> str:
    """An image's place in the seeded ranking; the first held_out_share of the ranks are held out.

    benchmarks/demo_generator.py splits the shipped demo generator's data by this same rule.
    """
    return hashlib.sha256(f"{seed}:{sha256}".encode()).hexdigest()


class IngestJob(UploadJob):
    """One upload of files (or zips) into a dataset, ingested by a Celery task."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="ingest_jobs")

    def __str__(self) -> str:
        return f"Upload of {len(self.uploads)} file(s) into {self.dataset}"


class ImageKind(models.TextChoices):
    REAL = "real"
    SYNTHETIC = "synthetic"


# Image.source_format of an image a training run here made: never a file, never compressed.
GENERATED = "generated"
# Formats whose compression leaves visible artefacts (JPEG's 8 x 8 blocks).
LOSSY_FORMATS = {"JPEG"}


def _image_path(image: "Image", filename: str) -> str:
    return random_png_name("images")


def _mask_path(image: "Image", filename: str) -> str:
    return random_png_name("masks")


def _source_path(image: "Image", filename: str) -> str:
    return random_png_name("sources")


class CropOrigin(models.TextChoices):
    AUTOMATIC = "automatic", "Automatic"
    ADJUSTED = "adjusted", "Adjusted by staff"


class Review(models.TextChoices):
    PENDING = "", "Not reviewed"
    ACCEPTED = "accepted", "Accepted"
    EXCLUDED = "excluded", "Excluded"


class Image(models.Model):
    """A canonical PNG, grey or RGB, real (from an upload) or synthetic (from a checkpoint)."""

    kind = models.CharField(max_length=16, choices=ImageKind.choices)
    file = models.FileField(upload_to=_image_path)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    channels = models.PositiveSmallIntegerField(
        default=1,
        choices=[(1, "grey"), (3, "colour (RGB)")],
        help_text="Of the stored PNG (quiz.imaging.channels_of).",
    )
    sha256 = models.CharField(max_length=64, help_text="Of the canonical PNG's pixels.")
    created_at = models.DateTimeField(default=timezone.now)

    # Provenance of a real image.
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.CASCADE, related_name="images"
    )
    source_name = models.CharField(max_length=500, blank=True)
    split = models.CharField(max_length=16, choices=Split.choices, blank=True)
    # Frames of one multi-frame file share this key (the SHA-256 of the uploaded file), so the
    # split keeps them together; blank for a single-frame file.
    source_key = models.CharField(max_length=64, blank=True)
    # The decoded frame before the crop (canonical grayscale PNG, every header gone): what staff
    # review the crop against, and re-crop from when they adjust its box.
    source_file = models.FileField(upload_to=_source_path, blank=True)
    # Of the source frame's pixels: names the scan whatever its crop, so a generator's record of
    # its training scans (TrainingRun.trained_pixel_hashes) survives a changed crop.
    source_sha256 = models.CharField(max_length=64, blank=True)
    # The source frame's size: images of one size share a screen layout ("source geometry"),
    # and staff can give them all one crop box.
    source_width = models.PositiveIntegerField(null=True, blank=True)
    source_height = models.PositiveIntegerField(null=True, blank=True)
    # The format of the file the pixels came from: "PNG", "JPEG" (a DICOM stored as lossy JPEG
    # too), "TIFF", "BMP", "GIF", "DICOM"; GENERATED for an image a run here made; blank where
    # it was not recorded (images stored before it was). Lossy JPEG leaves 8 x 8 block
    # artefacts, so the cue audit at publish compares the classes' formats.
    source_format = models.CharField(max_length=16, blank=True)
    crop_box = models.JSONField(
        null=True, blank=True, help_text="[left, top, right, bottom] in the source frame"
    )
    crop_origin = models.CharField(
        max_length=16, choices=CropOrigin.choices, default=CropOrigin.AUTOMATIC
    )
    # A field that is not a rectangle (sector, steered linear): `file` holds its bounding box
    # with the pixels outside the field black, `field_mask` the field (0/255 PNG, same size).
    field_shape = models.CharField(max_length=16, blank=True)
    field_mask = models.FileField(upload_to=_mask_path, blank=True)
    # [left, top, right, bottom] in `file`: the largest rectangle inside the field and clear of
    # the scanner's marks over it; None for all of `file`. Panels and training use only this
    # part, so both classes show the same geometry (see panel_pixels).
    panel_box = models.JSONField(null=True, blank=True)
    # [{"code": "colour-flow", "reason": "..."}]: why ingest thinks this is not plain B-mode.
    flags = models.JSONField(default=list, blank=True)
    review = models.CharField(max_length=16, choices=Review.choices, blank=True)
    # The panel region rendered at 32 x 32 (uint8 bytes): ingest's near-duplicate check
    # compares these (quiz.ingest.near_duplicates).
    signature = models.BinaryField(blank=True, default=b"")

    # Provenance of a synthetic image: its generator, and where a run trained here made it (run,
    # checkpoint step, seed: the image can be made again from them).
    generator = models.ForeignKey(
        "Generator", null=True, blank=True, on_delete=models.CASCADE, related_name="images"
    )
    training_run = models.ForeignKey(
        "TrainingRun", null=True, blank=True, on_delete=models.CASCADE, related_name="images"
    )
    checkpoint_step = models.PositiveIntegerField(null=True, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    # The label mask a mask-to-image generator drew this image from (ganengine.masks labels:
    # 0 background, 1 aponeurosis, 2 fascicle). Staff only: never part of a quiz.
    mask = models.FileField(upload_to=_mask_path, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "sha256"],
                condition=models.Q(kind="real"),
                name="real_image_unique_per_dataset",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="real", dataset__isnull=False)
                | models.Q(kind="synthetic", generator__isnull=False),
                name="image_has_provenance",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == ImageKind.REAL:
            return f"real #{self.pk} {self.source_name}"
        return f"synthetic #{self.pk} run {self.training_run_id} step {self.checkpoint_step}"

    def save(self, *args, **kwargs) -> None:
        if self.kind == ImageKind.SYNTHETIC and self.generator_id is None and self.training_run_id:
            # An image a run trained here made belongs to the run's generator. Looked up through
            # the field, not imported: quiz.models.generators imports this module.
            generator_model = self._meta.get_field("generator").related_model
            self.generator = generator_model.of_run(self.training_run)
        super().save(*args, **kwargs)

    def pixels(self) -> np.ndarray:
        """The stored canonical PNG's pixels, uint8 H x W (grey) or H x W x 3 (colour)."""
        with self.file.open("rb") as handle:
            return decode_png(handle.read())

    def panel_pixels(self) -> np.ndarray:
        """What panels and training see: the pixels inside panel_box (all of them without one).

        A sector or slanted field's corners are black in the stored file; a generator would
        learn those edges imperfectly, so both classes are shown as rectangles of tissue.
        """
        pixels = self.pixels()
        if not self.panel_box:
            return pixels
        left, top, right, bottom = self.panel_box
        return np.ascontiguousarray(pixels[top:bottom, left:right])

    def source_pixels(self) -> np.ndarray:
        with self.source_file.open("rb") as handle:
            return decode_png(handle.read())

    @property
    def split_key(self) -> str:
        return self.source_key or self.sha256

    @property
    def is_usable(self) -> bool:
        """May training and studies take it: not excluded, and any flag accepted by staff."""
        if self.review == Review.EXCLUDED:
            return False
        return not self.flags or self.review == Review.ACCEPTED
