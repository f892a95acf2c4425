"""The record of everything: datasets, images, jobs, studies and every trial of the quiz.

A job's row (IngestJob, TrainingRun, GenerationJob) is the source of truth for its status; the
broker only triggers the work, so a lost message never loses a job's history.
"""

import secrets
import string
import uuid

from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

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
    """What every background job records: status, attempts, error and timestamps."""

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}

    def mark_running(self) -> None:
        self.status = JobStatus.RUNNING
        self.attempts += 1
        self.started_at = timezone.now()
        self.error = ""
        self.save(update_fields=["status", "attempts", "started_at", "error"])

    def mark_finished(self, status: str, error: str = "") -> None:
        self.status = status
        self.error = error
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "error", "finished_at"])


class Dataset(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class IngestJob(Job):
    """One upload of files (or zips) into a dataset, ingested by a Celery task."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="ingest_jobs")
    token = models.CharField(max_length=32, default=_new_token, unique=True, editable=False)
    # The uploaded files, kept under MEDIA_ROOT/uploads/<token>/ until ingest has read them.
    upload_names = models.JSONField(default=list)
    imported_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    # [{"file": "scan.png", "reason": "not an image (...)"}, ...]
    rejections = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"Upload of {len(self.upload_names)} file(s) into {self.dataset}"

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
    crop_box = models.JSONField(null=True, blank=True, help_text="[left, top, right, bottom]")

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


class ModelFamily(models.TextChoices):
    UNCONDITIONAL = "unconditional", "Unconditional (ganengine.TrainConfig)"
    MASK_TO_IMAGE = "mask_to_image", "Mask-to-image, HM-CycleGAN (ganengine.cyclegan)"


class TrainingRun(Job):
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="training_runs")
    name = models.CharField(max_length=200)
    family = models.CharField(
        max_length=16, choices=ModelFamily.choices, default=ModelFamily.UNCONDITIONAL
    )
    # The family's config dataclass as a dict: the exact configuration the worker trained.
    config = models.JSONField(default=dict)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    images_per_second = models.FloatField(null=True, blank=True)
    eta_seconds = models.FloatField(null=True, blank=True)
    # {"step": [...], "<loss name>": [...]} sampled at each progress report.
    metrics = models.JSONField(default=dict, blank=True)
    checkpoint = models.CharField(max_length=500, blank=True, help_text="Path under MEDIA_ROOT.")
    samples = models.CharField(max_length=500, blank=True, help_text="Latest sample grid PNG.")
    cancel_requested = models.BooleanField(default=False)

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


class Layout(models.TextChoices):
    GRID = "grid", "Grid of panels A–J"


class Study(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    images = models.ManyToManyField(Image, related_name="studies", blank=True)
    layout = models.CharField(max_length=16, choices=Layout.choices, default=Layout.GRID)
    panels_per_round = models.PositiveSmallIntegerField(default=10)
    # Every panel is shown at this square size, real and synthetic alike.
    panel_size = models.PositiveIntegerField(default=64)
    is_published = models.BooleanField(default=False)
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
    consented_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"participant {self.token}"


class Round(models.Model):
    """One grid of panels shown to a participant, answered once."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="rounds")
    token = models.CharField(max_length=32, default=_new_token, unique=True, editable=False)
    served_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)

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
    # Milliseconds from the page showing the panels to the last click on this panel, if measured.
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "guesses"

    def __str__(self) -> str:
        return f"{self.panel}: {self.answer}"
