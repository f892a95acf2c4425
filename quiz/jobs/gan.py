"""The work of GAN jobs: training, generation and evaluation, between the job rows and ganengine.

Each function gets its job and the Lease of the attempt running it (quiz.jobs), and writes to the
row only through the lease. Checkpoints travel through storage (quiz.jobs.workspace): the engine
writes into the attempt's scratch folder, each finished checkpoint is stored under a name of its
own and only then recorded as the run's `checkpoint`, so the row always names a complete
checkpoint, and a crash mid-store leaves the previous one in place.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet

import ganengine
from ganengine import families
from ganengine.checkpoint import load_file
from ganengine.family import Family
from quiz.imaging import channels_of, encode_png, pixel_sha256, square_stack
from quiz.jobs import JobFailed, Lease, create, workspace
from quiz.models import (
    GENERATED,
    Dataset,
    EvaluationJob,
    GenerationJob,
    Image,
    ImageKind,
    Split,
    TrainingRun,
)

log = logging.getLogger(__name__)

# Progress rows are written at most this often, so that a fast CPU run does not hammer SQLite.
PROGRESS_WRITE_INTERVAL_S = 1.0
CHECKPOINT_PREFIX = "checkpoint-"


def c2st_observers(c2st: dict) -> dict[str, dict]:
    """Each C2ST observer's AUC and interval, from an evaluation report's (or card's) section.

    The headline AUC is the highest of them; reports written before there were several
    observers have none.
    """
    return {
        name: {"auc": observer["auc"], "auc_ci": observer["auc_ci"]}
        for name, observer in c2st.get("observers", {}).items()
    }


def train(run: TrainingRun, lease: Lease, report: Callable[[str], None] | None = None) -> None:
    """Train the run's GAN on its dataset's train part, resuming from the run's checkpoint.

    The images it trains on are recorded (TrainingRun.trained_images) before training starts.
    The loop stops early when the lease asks it to (cancel, or the worker shutting down); it
    then writes a checkpoint, which the next attempt resumes.
    """
    with workspace.scratch(f"run-{run.pk}-attempt-{lease.attempt}") as scratch:
        resume_from = (
            workspace.fetch(run.checkpoint, scratch / "resume.pt") if run.checkpoint else None
        )
        _restart_history_at(run, lease, checkpoint_step(resume_from) if resume_from else 0)
        options = {
            "on_progress": _ProgressRecorder(run, lease, report),
            "should_stop": lease.heartbeat,
            "on_checkpoint": _CheckpointKeeper(run, lease),
            "resume_from": resume_from,
        }
        family = families.get(run.family)
        _record_channels(run, lease, family, report)
        config = family.config(run.config)
        channels = getattr(config, "channels", 1)
        data = _dataset_tensor(run, config.resolution, channels)
        family.train(config, data, scratch / "out", **options)


def _record_channels(
    run: TrainingRun, lease: Lease, family: Family, report: Callable[[str], None] | None
) -> None:
    """Settle the run's image channels and record them in its config before training.

    They come from the training images: 3 if any is RGB, else 1 (a preset's channels say
    nothing about the data; a retried run has the same recorded images, so the same channels).
    Grey images in an RGB run are repeated into three equal channels (quiz.imaging.as_rgb, in
    square_stack), and the run's log says how many were.
    """
    modes = _training_images(run).aggregate(
        colour=Count("pk", filter=Q(channels=3)), grey=Count("pk", filter=Q(channels=1))
    )
    colour, grey = modes["colour"], modes["grey"]
    if "channels" not in {field.name for field in dataclasses.fields(family.config_class)}:
        if colour:
            raise JobFailed(
                f"the {family.name} family trains on grey images only, and {colour} of the "
                f"images of run {run} are in colour; train an unconditional GAN instead"
            )
        return
    channels = 3 if colour else 1
    if run.config.get("channels") != channels:
        run.config = {**run.config, "channels": channels}
        lease.update(config=run.config)
    if colour and grey:
        note = (
            f"run {run}: {grey} grey training image(s) join {colour} RGB ones as three equal "
            "channels (quiz.imaging.as_rgb)"
        )
        log.warning(note)
        if report:
            report(note)


def _dataset_tensor(run: TrainingRun, resolution: int, channels: int):
    # Rendered as panels are (quiz.imaging.render_panel: centre square, area-averaged), so the
    # generator learns the pixels a study's real panels show, not another resampling of them.
    squares = square_stack(
        (image.panel_pixels() for image in _training_images(run).iterator()), resolution
    )
    return ganengine.prepare_arrays(list(squares), resolution, channels)


def _training_images(run: TrainingRun) -> QuerySet[Image]:
    """The real images the run trains on, recorded on the run before training starts.

    A first attempt takes the dataset's train part. A retried run, which resumes its checkpoint,
    keeps the images it recorded: the record must stay all that the run's generator has seen,
    even if the split was redrawn in between.
    """
    if not run.trained_images.exists():
        train_part = run.dataset.images.filter(kind=ImageKind.REAL, split=Split.TRAIN)
        if not train_part.exists():
            raise JobFailed(_no_train_images(run.dataset))
        run.trained_images.set(train_part)
    return run.trained_images.order_by("pk")


def _no_train_images(dataset: Dataset) -> str:
    real = dataset.images.filter(kind=ImageKind.REAL).count()
    if not real:
        return f"dataset {dataset} has no images to train on"
    return (
        f"dataset {dataset} has no images in its train part to train on "
        f"(its {real} real image(s) are all held out or not yet split)"
    )


def checkpoint_step(path: Path) -> int:
    """The step a checkpoint file holds: where training resumed from it starts again.

    The row's `step` is not it: that is the last progress report, which may be past the last
    checkpoint when the attempt that made it was killed.
    """
    return int(load_file(path)["step"])


def _restart_history_at(run: TrainingRun, lease: Lease, step: int) -> None:
    """Cut the run's progress history at the step this attempt's training starts from.

    That is its checkpoint's step, or 0 without one. The reports a killed attempt made after its
    last checkpoint are of steps that this attempt trains and reports again: kept, they would
    repeat steps on the curves' axis.
    """
    run.metrics = history_up_to(run.metrics or {}, step)
    run.step = step
    lease.update(metrics=run.metrics, step=step)


def history_up_to(metrics: dict[str, list[float]], step: int) -> dict[str, list[float]]:
    """The progress history (TrainingRun.metrics) without the points reported after `step`."""
    keep = sum(1 for reported in metrics.get("step", []) if reported <= step)
    return {name: list(values[:keep]) for name, values in metrics.items()}


class _CheckpointKeeper:
    """Stores each checkpoint the engine completes, then records it as the run's latest."""

    def __init__(self, run: TrainingRun, lease: Lease) -> None:
        self.run = run
        self.lease = lease
        self.stored_step: int | None = None

    def __call__(self, path: Path, step: int) -> None:
        if step == self.stored_step:  # the final save of a run stopped right at a checkpoint
            return
        folder = self.run.work_dir
        name = workspace.store(
            path, f"{folder}/{CHECKPOINT_PREFIX}{step:06d}-attempt{self.lease.attempt}.pt"
        )
        try:
            self.lease.update(checkpoint=name, step=step)
        except Exception:
            default_storage.delete(name)  # a stale attempt's checkpoint is nobody's
            raise
        self.stored_step = step
        workspace.prune(folder, CHECKPOINT_PREFIX, keep=name)


class _ProgressRecorder:
    """Forwards ganengine progress to the TrainingRun row (throttled) and an optional reporter."""

    def __init__(
        self, run: TrainingRun, lease: Lease, report: Callable[[str], None] | None
    ) -> None:
        self.run = run
        self.lease = lease
        self.report = report
        # The history that train() cut at the step this attempt starts from.
        self.metrics = run.metrics
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
            self.lease.update(**fields)
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


def evaluate_when_trained(run: TrainingRun) -> None:
    """A finished run gets its machine observer: KID and C2ST against held-out images."""
    create(EvaluationJob, training_run=run)


def generate(job: GenerationJob, lease: Lease) -> None:
    """Generate the job's images from its run's checkpoint and store them as synthetic Images.

    Image i has seed first_seed + i; an attempt continues after the images already produced.
    A family that draws images from label masks (mask-to-image) stores each with its mask.
    """
    run = job.training_run
    if not run.checkpoint:
        raise JobFailed(f"training run {run} has no checkpoint yet")
    first_seed = job.first_seed + job.produced
    count = job.count - job.produced
    with workspace.scratch(f"generation-{job.pk}-attempt-{lease.attempt}") as scratch:
        checkpoint = workspace.fetch(run.checkpoint, scratch / "checkpoint.pt")
        step = checkpoint_step(checkpoint)
        generated = families.get(run.family).generate(checkpoint, count, seed=first_seed)
    masks = generated.masks if generated.masks is not None else [None] * len(generated.images)
    for index, (image_pixels, mask) in enumerate(zip(generated.images, masks, strict=True)):
        if lease.heartbeat():
            return
        with transaction.atomic():  # the image and the count, or neither (a stale attempt)
            lease.update(produced=F("produced") + 1)
            _store_synthetic(run, step, image_pixels, first_seed + index, mask)


def _store_synthetic(run: TrainingRun, step: int, pixels, seed: int, mask=None) -> Image:
    height, width = pixels.shape[:2]
    return Image.objects.create(
        kind=ImageKind.SYNTHETIC,
        training_run=run,
        checkpoint_step=step,
        seed=seed,
        source_format=GENERATED,
        width=width,
        height=height,
        channels=channels_of(pixels),
        sha256=pixel_sha256(pixels),
        file=ContentFile(encode_png(pixels), name="image.png"),
        mask=ContentFile(encode_png(mask), name="mask.png") if mask is not None else "",
    )


# The machine observer compares this many generated images with as many held-out real ones.
EVALUATION_MAX_IMAGES = 200


def evaluate(job: EvaluationJob, lease: Lease) -> None:
    """KID and the classifier two-sample test of the run's checkpoint against held-out images.

    The reference is the dataset's held-out part (what studies show as real panels), never the
    images the run trained on. The result, or the reason it could not be computed, is the run's
    `evaluation`.
    """
    run = job.training_run
    try:
        with lease.kept_alive():
            evaluation = _evaluation(run, lease)
    except JobFailed as exc:
        _record_evaluation(run, lease, {"error": str(exc)})
        raise
    except Exception as exc:
        _record_evaluation(run, lease, {"error": f"{type(exc).__name__}: {exc}"})
        raise
    _record_evaluation(run, lease, evaluation)


def _record_evaluation(run: TrainingRun, lease: Lease, evaluation: dict) -> None:
    with transaction.atomic():
        lease.update(error="")  # fences the write to the run: only the live attempt records
        TrainingRun.objects.filter(pk=run.pk).update(evaluation=evaluation)


def _evaluation(run: TrainingRun, lease: Lease) -> dict:
    from ganengine.metrics.evaluate import evaluate as evaluate_checkpoint

    if not run.checkpoint:
        raise JobFailed(f"training run {run} has no checkpoint")
    resolution = int(run.config["resolution"])
    held_out = square_stack(
        (
            image.panel_pixels()
            for image in run.dataset.images.filter(
                kind=ImageKind.REAL, split=Split.HELD_OUT
            ).order_by("pk")
        ),
        resolution,
    )
    training = square_stack(
        (image.panel_pixels() for image in run.trained_images.order_by("pk")), resolution
    )
    count = min(len(held_out), EVALUATION_MAX_IMAGES)
    if count < 4 or len(training) < 2:
        raise JobFailed(
            f"needs at least 4 held-out and 2 training images, the dataset has "
            f"{len(held_out)} held-out and the run {len(training)} training images"
        )
    with workspace.scratch(f"evaluation-{run.pk}-attempt-{lease.attempt}") as scratch:
        checkpoint = workspace.fetch(run.checkpoint, scratch / "checkpoint.pt")
        report = evaluate_checkpoint(
            checkpoint,
            training,
            count=count,
            real_images=held_out[:count],
            metrics=("kid", "c2st"),
            kid_subset_size=count,
            kid_subsets=10 if count < 50 else 100,
            c2st_folds=min(5, count // 2),
        )
        step = checkpoint_step(checkpoint)
    return {
        "kid": report["kid"]["kid"],
        "kid_std": report["kid"]["kid_std"],
        "c2st_auc": report["c2st"]["auc"],
        "c2st_auc_std": report["c2st"]["auc_std"],
        "c2st_auc_ci": report["c2st"]["auc_ci"],
        "c2st_observer": report["c2st"].get("observer"),
        "c2st_observers": c2st_observers(report["c2st"]),
        "n_generated": count,
        "n_real": count,
        "real": "held-out images",
        "checkpoint_step": step,
    }
