"""Celery tasks: thin adapters between the database rows that record each job and ganengine.

Each task takes a row id, marks the row running, does the work and marks it finished. The row is the
record; the broker message only says "go". Training and generation are routed to queue "gpu"
(settings.CELERY_TASK_ROUTES). ganengine's names load torch on first use, i.e. in the worker
that runs a training or generation task, never in the web process that only enqueues them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from celery import shared_task
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, QuerySet

import ganengine
from ganengine import cyclegan
from quiz.imaging import encode_png, pixel_sha256, square_stack
from quiz.ingest import run_ingest_job
from quiz.models import (
    Dataset,
    GenerationJob,
    Image,
    ImageKind,
    IngestJob,
    JobStatus,
    LeakAudit,
    ModelFamily,
    Split,
    TrainingRun,
)

log = logging.getLogger(__name__)

# Progress rows are written at most this often, so that a fast CPU run does not hammer SQLite.
PROGRESS_WRITE_INTERVAL_S = 1.0
CANCEL_POLL_INTERVAL_S = 2.0
LATEST_CHECKPOINT = "checkpoint-latest.pt"


def enqueue(task, pk: int) -> None:
    """Send the task once the row it names is committed, so the worker can always find it."""
    transaction.on_commit(lambda: task.delay(pk))


@shared_task
def ingest_upload(job_id: int) -> None:
    run_ingest_job(IngestJob.objects.get(pk=job_id))


@shared_task
def train_run(run_id: int) -> None:
    run = TrainingRun.objects.get(pk=run_id)
    if run.is_finished:  # a redelivered message for a run that already ended
        return
    execute_training(run)
    if TrainingRun.objects.filter(pk=run_id, status=JobStatus.SUCCEEDED).exists():
        enqueue(evaluate_run, run_id)


@shared_task
def evaluate_run(run_id: int) -> None:
    execute_evaluation(TrainingRun.objects.get(pk=run_id))


@shared_task
def generate_images(job_id: int) -> None:
    job = GenerationJob.objects.select_related("training_run").get(pk=job_id)
    if job.is_finished:
        return
    execute_generation(job)


def execute_training(run: TrainingRun, report: Callable[[str], None] | None = None) -> None:
    """Train the run's GAN on its dataset's train part, recording progress on the row.

    The images it trains on are recorded (TrainingRun.trained_images) before training starts;
    a run resumes from its latest checkpoint.
    """
    run.mark_running()
    try:
        out_dir = Path(default_storage.path(run.work_dir))
        latest = out_dir / LATEST_CHECKPOINT
        options = {
            "on_progress": _ProgressRecorder(run, report),
            "should_stop": _CancelPoll(run.pk),
            "resume_from": latest if latest.exists() else None,
        }
        if run.family == ModelFamily.MASK_TO_IMAGE:
            config = cyclegan.CycleGANConfig.from_dict(run.config)
            images = _dataset_tensor(run, config.resolution)
            masks = cyclegan.training_masks(config.resolution, config.seed)
            result = cyclegan.train_cyclegan(config, images, masks, out_dir, **options)
        else:
            config = ganengine.TrainConfig.from_dict(run.config)
            images = _dataset_tensor(run, config.resolution)
            result = ganengine.train(config, images, out_dir, **options)
    except Exception as exc:
        log.exception("training run %s failed", run.pk)
        run.mark_finished(JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    run.checkpoint = str(Path(result.checkpoint_path).relative_to(default_storage.path("")))
    run.step = result.step
    run.save(update_fields=["checkpoint", "step"])
    run.mark_finished(JobStatus.CANCELLED if result.cancelled else JobStatus.SUCCEEDED)


def _dataset_tensor(run: TrainingRun, resolution: int):
    return ganengine.prepare_arrays(
        [image.pixels() for image in _training_images(run).iterator()], resolution
    )


def _training_images(run: TrainingRun) -> QuerySet[Image]:
    """The real images the run trains on, recorded on the run before training starts.

    A first attempt takes the dataset's train part. A retried run, which resumes its checkpoint,
    keeps the images it recorded: the record must stay all that the run's generator has seen,
    even if the split was redrawn in between.
    """
    if not run.trained_images.exists():
        train = run.dataset.images.filter(kind=ImageKind.REAL, split=Split.TRAIN)
        if not train.exists():
            raise ValueError(_no_train_images(run.dataset))
        run.trained_images.set(train)
    return run.trained_images.order_by("pk")


def _no_train_images(dataset: Dataset) -> str:
    real = dataset.images.filter(kind=ImageKind.REAL).count()
    if not real:
        return f"dataset {dataset} has no images to train on"
    return (
        f"dataset {dataset} has no images in its train part to train on "
        f"(its {real} real image(s) are all held out or not yet split)"
    )


class _ProgressRecorder:
    """Forwards ganengine progress to the TrainingRun row (throttled) and an optional reporter."""

    def __init__(self, run: TrainingRun, report: Callable[[str], None] | None) -> None:
        self.run = run
        self.report = report
        self.metrics: dict[str, list[float]] = dict(run.metrics or {})
        self.last_write = 0.0

    def __call__(self, progress: ganengine.Progress) -> None:
        self.metrics.setdefault("step", []).append(progress.step)
        for name, value in progress.losses.items():
            self.metrics.setdefault(name, []).append(round(float(value), 5))
        fields = {
            "step": progress.step,
            "total_steps": progress.total_steps,
            "images_per_second": progress.images_per_second,
            "eta_seconds": progress.eta_seconds,
            "metrics": self.metrics,
        }
        if progress.samples is not None:
            fields["samples"] = self._save_samples(progress.samples)
        now = time.monotonic()
        final = progress.step >= progress.total_steps
        if (
            progress.samples is not None
            or final
            or now - self.last_write >= PROGRESS_WRITE_INTERVAL_S
        ):
            TrainingRun.objects.filter(pk=self.run.pk).update(**fields)
            self.last_write = now
        if self.report:
            losses = " ".join(f"{k}={v:.3f}" for k, v in progress.losses.items())
            eta = f"{progress.eta_seconds:.0f}s" if progress.eta_seconds is not None else "?"
            self.report(
                f"step {progress.step}/{progress.total_steps} {losses} "
                f"{progress.images_per_second:.1f} img/s ETA {eta}"
            )

    def _save_samples(self, grid) -> str:
        name = f"{self.run.work_dir}/samples.png"
        default_storage.delete(name)
        return default_storage.save(name, ContentFile(encode_png(grid)))


class _CancelPoll:
    """Checks the row's cancel flag every step, but asks the database only every few seconds."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.last_poll = 0.0
        self.cancelled = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.cancelled and now - self.last_poll >= CANCEL_POLL_INTERVAL_S:
            self.last_poll = now
            self.cancelled = TrainingRun.objects.filter(
                pk=self.run_id, cancel_requested=True
            ).exists()
        return self.cancelled


def execute_generation(job: GenerationJob) -> None:
    """Generate the job's images from its run's checkpoint and store them as synthetic Images.

    A mask-to-image run stores each image together with the label mask it was drawn from.
    """
    job.mark_running()
    run = job.training_run
    try:
        if not run.checkpoint:
            raise ValueError(f"training run {run} has no checkpoint yet")
        checkpoint = Path(default_storage.path(run.checkpoint))
        if run.family == ModelFamily.MASK_TO_IMAGE:
            pixels, masks = cyclegan.generate_pairs(checkpoint, job.count, seed=job.first_seed)
        else:
            pixels = ganengine.generate(checkpoint, job.count, seed=job.first_seed)
            masks = [None] * len(pixels)
        for index, (image_pixels, mask) in enumerate(zip(pixels, masks, strict=True)):
            _store_synthetic(run, image_pixels, job.first_seed + index, mask)
            GenerationJob.objects.filter(pk=job.pk).update(produced=F("produced") + 1)
    except Exception as exc:
        log.exception("generation job %s failed", job.pk)
        job.mark_finished(JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    job.mark_finished(JobStatus.SUCCEEDED)


def _store_synthetic(run: TrainingRun, pixels, seed: int, mask=None) -> Image:
    height, width = pixels.shape
    return Image.objects.create(
        kind=ImageKind.SYNTHETIC,
        training_run=run,
        checkpoint_step=run.step,
        seed=seed,
        width=width,
        height=height,
        sha256=pixel_sha256(pixels),
        file=ContentFile(encode_png(pixels), name="image.png"),
        mask=ContentFile(encode_png(mask), name="mask.png") if mask is not None else "",
    )


@shared_task
def audit_study(audit_id: int) -> None:
    # Imported here: the audit loads scikit-learn and scipy, which the web process never needs.
    from quiz.leak_audit import run_leak_audit

    audit = LeakAudit.objects.select_related("study").get(pk=audit_id)
    if audit.is_finished:  # a redelivered message for an audit that already ended
        return
    run_leak_audit(audit)


# The machine observer compares this many generated images with as many held-out real ones.
EVALUATION_MAX_IMAGES = 200


def execute_evaluation(run: TrainingRun) -> dict:
    """KID and the classifier two-sample test of the run's checkpoint against held-out images.

    The reference is the dataset's held-out part (what studies show as real panels), never the
    images the run trained on. A failure is recorded on the run, not raised: an evaluation is an
    addition to a finished run, not a condition of it.
    """
    from ganengine.metrics.evaluate import evaluate

    try:
        if not run.checkpoint:
            raise ValueError(f"training run {run} has no checkpoint")
        resolution = int(run.config["resolution"])
        held_out = square_stack(
            (
                image.pixels()
                for image in run.dataset.images.filter(
                    kind=ImageKind.REAL, split=Split.HELD_OUT
                ).order_by("pk")
            ),
            resolution,
        )
        training = square_stack(
            (image.pixels() for image in run.trained_images.order_by("pk")), resolution
        )
        count = min(len(held_out), EVALUATION_MAX_IMAGES)
        if count < 4 or len(training) < 2:
            raise ValueError(
                f"needs at least 4 held-out and 2 training images, the dataset has "
                f"{len(held_out)} held-out and the run {len(training)} training images"
            )
        report = evaluate(
            Path(default_storage.path(run.checkpoint)),
            training,
            count=count,
            real_images=held_out[:count],
            metrics=("kid", "c2st"),
            kid_subset_size=count,
            kid_subsets=10 if count < 50 else 100,
            c2st_folds=min(5, count // 2),
        )
        evaluation = {
            "kid": report["kid"]["kid"],
            "kid_std": report["kid"]["kid_std"],
            "c2st_auc": report["c2st"]["auc"],
            "c2st_auc_std": report["c2st"]["auc_std"],
            "n_generated": count,
            "n_real": count,
            "real": "held-out images",
            "checkpoint_step": run.step,
        }
    except Exception as exc:
        log.exception("evaluation of run %s failed", run.pk)
        evaluation = {"error": f"{type(exc).__name__}: {exc}"}
    TrainingRun.objects.filter(pk=run.pk).update(evaluation=evaluation)
    return evaluation
