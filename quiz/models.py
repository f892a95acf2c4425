"""The record of everything: datasets, images, jobs, studies and every trial of the quiz.

A job's row (IngestJob, TrainingRun, GenerationJob) is the source of truth for its status; the
broker only triggers the work, so a lost message never loses a job's history.
"""

import hashlib
import secrets
import string
import uuid
from itertools import groupby
from typing import NamedTuple

import numpy as np
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from quiz.imaging import decode_png

PANEL_LETTERS = string.ascii_uppercase


def _new_token() -> str:
    return secrets.token_urlsafe(18)


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Job(models.Model):
    """What every background job records: status, its attempts' lease, error and timestamps.

    Only quiz.jobs changes these fields. `attempts` numbers the claims of the job and is the
    fencing token: a worker's write carries the attempt it claimed and is refused once another
    attempt has claimed the job. `lease_expires_at` is renewed by the running attempt's
    heartbeats; a lease that lapses means its worker is gone.
    """

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    lease_owner = models.CharField(max_length=200, blank=True, help_text="worker/pid")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    lost_leases = models.PositiveIntegerField(
        default=0, help_text="Attempts whose worker vanished; the job fails at the cap."
    )
    cancel_requested = models.BooleanField(default=False)
    # Set when the worker holding the lease shuts down: the attempt stops and re-queues the job.
    handback_requested = models.BooleanField(default=False)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When a broker message last announced the job."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}

    @property
    def lease_is_live(self) -> bool:
        return (
            self.status == JobStatus.RUNNING
            and self.lease_expires_at is not None
            and self.lease_expires_at > timezone.now()
        )


class Split(models.TextChoices):
    TRAIN = "train", "Train (generators see it)"
    HELD_OUT = "held_out", "Held out (real panels of studies)"


class Dataset(models.Model):
    name = models.CharField(max_length=200, unique=True)
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


class IngestJob(Job):
    """One upload of files (or zips) into a dataset, ingested by a Celery task."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="ingest_jobs")
    token = models.CharField(max_length=32, default=_new_token, unique=True, editable=False)
    # The uploaded files, kept under uploads/<token>/ in storage until ingest has read them: each
    # {"stored": the generated storage name, "name": the file's name as uploaded, for the report}.
    uploads = models.JSONField(default=list)
    imported_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    # Each a list of {"file": "scan.png", "reason": "..."}, one entry per file (or frame):
    # turned away; left out as a duplicate, near-duplicate or unsafe name; imported but flagged
    # as not plain B-mode; imported with a remark (frames kept, windowing, crop fallback).
    rejections = models.JSONField(default=list)
    skipped = models.JSONField(default=list)
    flagged = models.JSONField(default=list)
    notes = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"Upload of {len(self.uploads)} file(s) into {self.dataset}"

    @property
    def upload_dir(self) -> str:
        return f"uploads/{self.token}"


class ImageKind(models.TextChoices):
    REAL = "real"
    SYNTHETIC = "synthetic"


def _image_path(image: "Image", filename: str) -> str:
    # Random names: the stored path must not reveal the kind either.
    return f"images/{secrets.token_hex(2)}/{secrets.token_hex(16)}.png"


def _mask_path(image: "Image", filename: str) -> str:
    return f"masks/{secrets.token_hex(2)}/{secrets.token_hex(16)}.png"


def _source_path(image: "Image", filename: str) -> str:
    return f"sources/{secrets.token_hex(2)}/{secrets.token_hex(16)}.png"


class CropOrigin(models.TextChoices):
    AUTOMATIC = "automatic", "Automatic"
    ADJUSTED = "adjusted", "Adjusted by staff"


class Review(models.TextChoices):
    PENDING = "", "Not reviewed"
    ACCEPTED = "accepted", "Accepted"
    EXCLUDED = "excluded", "Excluded"


class Image(models.Model):
    """A canonical grayscale PNG, real (from an upload) or synthetic (from a checkpoint)."""

    kind = models.CharField(max_length=16, choices=ImageKind.choices)
    file = models.FileField(upload_to=_image_path)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
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

    # Provenance of a synthetic image.
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
                | models.Q(kind="synthetic", training_run__isnull=False),
                name="image_has_provenance",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == ImageKind.REAL:
            return f"real #{self.pk} {self.source_name}"
        return f"synthetic #{self.pk} run {self.training_run_id} step {self.checkpoint_step}"

    def pixels(self) -> np.ndarray:
        """The stored canonical PNG's pixels, uint8 H x W."""
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


class TrainingRun(Job):
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="training_runs")
    name = models.CharField(max_length=200)
    # The name of a model family registered in ganengine.families; the training form offers
    # and checks them, so a new family needs no migration here.
    family = models.CharField(max_length=64, default="unconditional")
    # The family's config dataclass as a dict: the exact configuration the worker trained.
    config = models.JSONField(default=dict)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    images_per_second = models.FloatField(null=True, blank=True)
    eta_seconds = models.FloatField(null=True, blank=True)
    # {"step": [...], "<loss name>": [...]} sampled at each progress report.
    metrics = models.JSONField(default=dict, blank=True)
    checkpoint = models.CharField(
        max_length=500, blank=True, help_text="Storage name of the run's latest checkpoint."
    )
    samples = models.CharField(max_length=500, blank=True, help_text="Latest sample grid PNG.")
    # The machine observer beside the human one: ganengine's KID and classifier two-sample test
    # of the finished run against the dataset's held-out images (an EvaluationJob's result).
    evaluation = models.JSONField(default=dict, blank=True)
    # The real images this run trained on: a study may not show them as real panels.
    trained_images = models.ManyToManyField("Image", related_name="trained_by", blank=True)
    # For a generator trained outside this site (the shipped demo generator): the SHA-256 of the
    # canonical pixels, and of the source frame, of every image it trained on, from its model
    # card. The held-out rule checks real panels (sha256 and source_sha256) against these as
    # against trained_images.
    trained_pixel_hashes = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return self.name

    @property
    def progress(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0

    @property
    def work_dir(self) -> str:
        return f"runs/{self.pk}"


class GenerationJob(Job):
    training_run = models.ForeignKey(
        TrainingRun, on_delete=models.CASCADE, related_name="generation_jobs"
    )
    count = models.PositiveIntegerField()
    # Seeds first_seed .. first_seed + count - 1: each image can be regenerated from its seed.
    first_seed = models.BigIntegerField(default=0)
    produced = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Generate {self.count} from {self.training_run}"


class EvaluationJob(Job):
    """KID and C2ST of a finished run against held-out images, stored as the run's evaluation."""

    training_run = models.ForeignKey(
        TrainingRun, on_delete=models.CASCADE, related_name="evaluation_jobs"
    )

    def __str__(self) -> str:
        return f"Evaluate {self.training_run}"


class Layout(models.TextChoices):
    GRID = "grid", "Grid of panels A–J"
    SINGLE = "single", "One image at a time"


class Reveal(NamedTuple):
    """What a page shows about the trials it follows: their number correct, their truths."""

    score: bool
    key: bool


class Feedback(models.TextChoices):
    """What participants learn about their answers, and when (docs/study-design.md).

    Every participant is served the same bytes for the same image, so whatever a page reveals
    about a set of trials is an equation in the truths of those images: pooled over sessions,
    scores and keys become an oracle (quiz.integrity.oracle_check measures how fast). Only the
    policies
    that reveal nothing while the study runs measure perception and nothing else.
    """

    SCORE_AT_CLOSE = "score_at_close", "Score when the study closes (no oracle)"
    NONE = "none", "No feedback (no oracle)"
    SCORE_ONLY = "score", "Score after each round (pooled scores reveal the truths)"
    KEY_AT_END = "key_at_end", "Answer key at the end (truths public after one session)"
    KEY_EACH_ROUND = "key", "Answer key after each round (truths public after one session)"

    @property
    def after_round(self) -> Reveal:
        """What the result page after each round shows."""
        return Reveal(
            score=self in {Feedback.KEY_EACH_ROUND, Feedback.SCORE_ONLY},
            key=self == Feedback.KEY_EACH_ROUND,
        )

    @property
    def at_end(self) -> Reveal:
        """What the summary page at the end of a session shows while the study runs."""
        return Reveal(
            score=self in {Feedback.KEY_EACH_ROUND, Feedback.SCORE_ONLY, Feedback.KEY_AT_END},
            key=self.reveals_truth,
        )

    @property
    def reveals_truth(self) -> bool:
        """The truth of each image reaches the participant (after the round, or at the end)."""
        return self in {Feedback.KEY_EACH_ROUND, Feedback.KEY_AT_END}

    @property
    def is_oracle_free(self) -> bool:
        """Nothing about a trial's truth is shown while the study collects data."""
        return not (self.after_round.score or self.at_end.score)


# "Indistinguishable from chance" means accuracy within 50 % ± this (TOST), unless a study says.
DEFAULT_EQUIVALENCE_MARGIN = 0.05

DEFAULT_CONSENT = (
    "This is a research study on how well people tell real ultrasound images from images made "
    "by a neural network. Taking part is voluntary and you may stop at any time. We record your "
    "answers, your response times and the answers to the questions below; nothing that "
    "identifies you. Results are reported in aggregate."
)


class Study(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    images = models.ManyToManyField(Image, related_name="studies", blank=True)
    layout = models.CharField(max_length=16, choices=Layout.choices, default=Layout.GRID)
    panels_per_round = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(len(PANEL_LETTERS))]
    )
    rounds_per_session = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Blank: as many rounds as the images allow without showing any image twice.",
    )
    # Every panel is rendered once, at publish, to this square size, real and synthetic alike.
    panel_size = models.PositiveIntegerField(
        default=256, validators=[MinValueValidator(16), MaxValueValidator(1024)]
    )
    exposure_ms = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(100), MaxValueValidator(60_000)],
        help_text="Hide each image this many milliseconds after it appears. Blank: untimed.",
    )
    feedback = models.CharField(
        max_length=16,
        choices=Feedback.choices,
        default=Feedback.SCORE_AT_CLOSE,
        help_text="Every participant sees the same image as the same bytes, so a score or key "
        "shown while the study runs can be pooled across sessions into the truth of every "
        "image. “Score when the study closes” and “no feedback” cannot; the publish audit's "
        "oracle check measures how fast the others break (docs/quiz-integrity.md).",
    )
    expected_participants = models.PositiveIntegerField(
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="How many participants you plan to recruit: the oracle check at publish "
        "plays this many sessions under the feedback policy.",
    )
    oracle_risk_acknowledgement = models.TextField(
        blank=True,
        help_text="Publishing refuses a feedback policy that the oracle check breaks within the "
        "expected participants, unless you state here why the risk is acceptable for this "
        "study; the statement is printed in the report's methods.",
    )
    practice_images = models.ManyToManyField(
        Image,
        related_name="practice_in",
        blank=True,
        help_text="Shown once, first, with the answer key; never counted and never reused.",
    )
    catch_images = models.ManyToManyField(
        Image,
        related_name="catch_in",
        blank=True,
        help_text="Obviously synthetic images (e.g. an early checkpoint's), each shown once "
        "among the trials to check attention.",
    )
    catch_max_real = models.PositiveSmallIntegerField(
        default=1,
        help_text="Exclusion rule, fixed before publishing: a participant who calls more than "
        "this many catch images real is excluded from the results.",
    )
    consent_text = models.TextField(default=DEFAULT_CONSENT)
    completion_url = models.URLField(
        blank=True, help_text="Shown at the end, e.g. a recruitment platform's completion link."
    )
    completion_code = models.CharField(max_length=64, blank=True)
    is_published = models.BooleanField(default=False)
    # Data collection has ended: no session starts and no round is recorded any more, and scores
    # held back until now ("score when the study closes") are shown.
    closed_at = models.DateTimeField(null=True, blank=True)
    results_public = models.BooleanField(
        default=False,
        help_text="Anyone with the link may read the statistics, their JSON and the per-trial "
        "CSV (which holds the truth of every image) once the study is published. Otherwise, "
        "and always before publishing, they are for staff only.",
    )
    equivalence_margin = models.FloatField(
        default=DEFAULT_EQUIVALENCE_MARGIN,
        validators=[MinValueValidator(0.01), MaxValueValidator(0.25)],
        help_text="“Indistinguishable from chance” needs evidence: accuracy is tested for "
        "equivalence to 50 % within ± this margin (TOST). Fix it before publishing.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = slugify(self.name)[:40] or secrets.token_hex(4)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("quiz:start", args=[self.slug])

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    def results_visible_to(self, user) -> bool:
        return user.is_staff or (self.is_published and self.results_public)


def _panel_path(panel: "StudyPanel", filename: str) -> str:
    return f"panels/{secrets.token_hex(2)}/{secrets.token_hex(16)}.png"


class StudyPanel(models.Model):
    """An image rendered, at publish, to the bytes every participant of the study is served.

    Serving only stored bytes of one length makes the response's size and timing independent of
    the source image and of its kind.
    """

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="panels")
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="study_panels")
    file = models.FileField(upload_to=_panel_path)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "image"], name="one_panel_per_study_image"),
        ]

    def __str__(self) -> str:
        return f"{self.study} panel of image #{self.image_id}"


class LeakAudit(Job):
    """The publish check of a study: its rules, and a classifier on everything but the pixels."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="audits")
    passed = models.BooleanField(null=True)
    # Publish the study when the audit passes (the admin's Publish action) or only report.
    publish_on_pass = models.BooleanField(default=False)
    # {"problems": [...], "auc": x, "ci95": [lo, hi], "features": {...}, "near_copies": [...]}
    report = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"Leak audit of {self.study}"


class Expertise(models.TextChoices):
    UNSPECIFIED = "", "Prefer not to say"
    NONE = "none", "No ultrasound experience"
    STUDENT = "student", "Student or trainee"
    RESEARCHER = "researcher", "Ultrasound researcher"
    SONOGRAPHER = "sonographer", "Sonographer or clinician who scans"


class Participant(models.Model):
    """An anonymous quiz taker, known only by a random token kept in their session."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    expertise = models.CharField(max_length=16, choices=Expertise.choices, blank=True)
    years_experience = models.PositiveSmallIntegerField(null=True, blank=True)
    # From the recruitment link (?PROLIFIC_PID= or ?pid=): one session per id and study.
    external_id = models.CharField(max_length=64, blank=True)
    consented_at = models.DateTimeField(default=timezone.now)
    # The session's test trials in order, one letter per panel: R real, S synthetic, C catch.
    design = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A participant the leak audit drove over HTTP; deleted when the audit ends.
    is_audit = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["study", "external_id"],
                condition=~models.Q(external_id=""),
                name="one_session_per_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"participant {self.token}"


class Round(models.Model):
    """One grid (or sequence) of panels shown to a participant, answered once.

    The study's protocol settings are copied onto the round, so every trial records the
    conditions it was measured under even if staff change the study later.
    """

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="rounds")
    token = models.CharField(max_length=32, default=_new_token, unique=True, editable=False)
    # 0-based within the session; the practice round has its own numbering.
    index = models.PositiveSmallIntegerField(default=0)
    is_practice = models.BooleanField(default=False)
    layout = models.CharField(max_length=16, choices=Layout.choices, default=Layout.GRID)
    feedback = models.CharField(max_length=16, choices=Feedback.choices, blank=True)
    exposure_limit_ms = models.PositiveIntegerField(null=True, blank=True)
    # How often the page of a timed round was drawn: a reload must not show its images again.
    page_views = models.PositiveSmallIntegerField(default=0)
    served_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Two concurrent first requests cannot open two rounds for the same slot.
            models.UniqueConstraint(
                fields=["participant", "is_practice", "index"], name="one_round_per_slot"
            ),
        ]

    def __str__(self) -> str:
        return f"round {self.pk} of {self.participant}"

    @property
    def study(self) -> Study:
        return self.participant.study


class RoundPanel(models.Model):
    """Which image sat at which letter of a round. Its token is the only handle the browser sees."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="panels")
    letter = models.CharField(max_length=1)
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="round_panels")
    token = models.CharField(max_length=32, default=_new_token, unique=True, editable=False)
    is_catch = models.BooleanField(default=False)

    class Meta:
        ordering = ["letter"]
        constraints = [
            models.UniqueConstraint(fields=["round", "letter"], name="one_image_per_letter"),
        ]

    def __str__(self) -> str:
        return f"{self.round} panel {self.letter}"


class Answer(models.TextChoices):
    REAL = "real", "Real"
    SYNTHETIC = "synthetic", "Synthetic"


class Guess(models.Model):
    """One trial of the perceptual Turing test: a participant's answer for one panel."""

    panel = models.OneToOneField(RoundPanel, on_delete=models.CASCADE, related_name="guess")
    answer = models.CharField(max_length=16, choices=Answer.choices)
    correct = models.BooleanField()
    # Milliseconds from the panel appearing to the last answer given for it, if measured.
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    # Milliseconds the image was on screen when an exposure limit hid it (browser-measured).
    exposure_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "guesses"

    def __str__(self) -> str:
        return f"{self.panel}: {self.answer}"
