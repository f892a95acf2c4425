"""Generators: the unit of synthetic provenance, trained here (a run) or elsewhere (images brought).

A run trained here has its jobs: training, generation of images from a checkpoint, evaluation.
A generator trained elsewhere has its imports: uploads of its images, masks and training manifest.
"""

from django.db import models
from django.utils import timezone

from quiz.models.datasets import Dataset
from quiz.models.jobs import Job, UploadJob


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


class Generator(models.Model):
    """Where a study's synthetic images come from; every synthetic image belongs to exactly one.

    Either a training run here (its images carry checkpoint step and seed, and the run records
    the real images it trained on), or a generator trained elsewhere whose images were brought.
    For the latter, the real images it trained on are known only from its training manifest: the
    held-out rule and the memorisation guard apply to what the manifest names, and without one
    the study's report says the held-out status of its real panels is unknown.
    """

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    training_run = models.OneToOneField(
        TrainingRun, null=True, blank=True, on_delete=models.CASCADE, related_name="generator"
    )
    trained_on = models.ForeignKey(
        Dataset,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="generators",
        help_text="The dataset it was trained on, if it is one of this site's.",
    )
    # A generator trained elsewhere: the SHA-256 of the canonical pixels, and of the source
    # frame, of every real image its training manifest names and this site holds; None when it
    # came without a manifest (held-out status unknown). A run's record is its trained_images.
    manifest_hashes = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name

    @property
    def is_external(self) -> bool:
        return self.training_run_id is None

    @property
    def training_is_known(self) -> bool:
        """Whether the real images it trained on are known (a run here, or a manifest)."""
        return not self.is_external or self.manifest_hashes is not None

    @classmethod
    def of_run(cls, run: TrainingRun) -> "Generator":
        """The generator of a run trained here, made on its first generation."""
        found = cls.objects.filter(training_run=run).first()
        if found is not None:
            return found
        name = run.name
        if cls.objects.filter(name=name).exists():
            name = f"{run.name} (run #{run.pk})"
        return cls.objects.create(name=name, training_run=run, trained_on=run.dataset)


class GeneratorImport(UploadJob):
    """One upload of a generator's images (files or zips), their masks and its training manifest.

    Imported by a Celery task through quiz.jobs (quiz.ingest.synthetic), or in process by
    `manage.py import_synthetic`. The report fields are those of an IngestJob, so the admin shows
    both alike.
    """

    generator = models.ForeignKey(Generator, on_delete=models.CASCADE, related_name="imports")
    # Beside `uploads` (the images): the masks, and at most one file naming the real images the
    # generator trained on (its manifest), stored the same way.
    mask_uploads = models.JSONField(default=list, blank=True)
    manifest_upload = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"Import of {len(self.uploads)} file(s) into {self.generator}"

    @property
    def all_uploads(self) -> list[dict[str, str]]:
        return [*self.uploads, *self.mask_uploads, *self.manifest_upload]
