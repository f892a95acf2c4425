"""Celery tasks: each one only hands its job's id to quiz.jobs, which claims and runs it.

A message says "look at job N"; it may arrive twice, late or never, and quiz.jobs is written for
all three. Training and generation go to queue "gpu", evaluation to "evaluation"
(settings.CELERY_TASK_ROUTES); their time limits are in settings.JOB_TIME_LIMITS. The worker's
start and shutdown hooks below keep jobs from being stranded by a worker that stops.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.signals import worker_ready, worker_shutting_down

from quiz import jobs
from quiz.jobs import workspace
from quiz.models import (
    EvaluationJob,
    GenerationJob,
    GeneratorImport,
    IngestJob,
    LeakAudit,
    TrainingRun,
)

log = logging.getLogger(__name__)


def _run(task: Task, model, pk: int) -> None:
    jobs.run(model, pk, jobs.worker_owner(task.request.hostname))


@shared_task(bind=True)
def ingest_upload(self: Task, job_id: int) -> None:
    _run(self, IngestJob, job_id)


@shared_task(bind=True)
def import_synthetic(self: Task, job_id: int) -> None:
    _run(self, GeneratorImport, job_id)


@shared_task(bind=True)
def train_run(self: Task, run_id: int) -> None:
    _run(self, TrainingRun, run_id)


@shared_task(bind=True)
def generate_images(self: Task, job_id: int) -> None:
    _run(self, GenerationJob, job_id)


@shared_task(bind=True)
def evaluate_run(self: Task, job_id: int) -> None:
    _run(self, EvaluationJob, job_id)


@shared_task(bind=True)
def audit_study(self: Task, audit_id: int) -> None:
    _run(self, LeakAudit, audit_id)


@shared_task
def reconcile_jobs() -> dict[str, int]:
    """Celery beat's periodic check: lapsed leases re-queued, lost messages sent again."""
    return jobs.reconcile()


@worker_ready.connect
def _recover_on_start(sender, **kwargs) -> None:
    # Whatever the last stop left: half-written scratch files, jobs whose worker was this one.
    workspace.remove_stale_scratch()
    log.info("jobs reconciled at worker start: %s", jobs.reconcile())


@worker_shutting_down.connect
def _hand_back_on_shutdown(sender: str, **kwargs) -> None:
    # The worker's main process gets SIGTERM (or Ctrl-C); its pool processes see the request on
    # their next heartbeat, checkpoint, and queue their jobs again before the worker exits.
    asked = jobs.request_handback(sender)
    if asked:
        log.info("asked %s running job(s) of %s to hand back", asked, sender)
