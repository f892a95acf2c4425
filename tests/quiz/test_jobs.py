"""quiz.jobs in one process: claims, fencing, the reconciler, hand-back, and checkpoints kept safe.

The same rules with real worker processes, brokers and kills: tests/integration/test_faults.py.
"""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from ganengine import families
from quiz import gan_jobs, job_files, jobs
from quiz.models import Dataset, EvaluationJob, GenerationJob, JobStatus, TrainingRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(make_study) -> TrainingRun:
    make_study()
    config = families.get("unconditional").preset("tiny", steps=30, checkpoint_every=10)
    return TrainingRun.objects.create(
        dataset=Dataset.objects.get(), name="tiny", config=config.to_dict(), total_steps=30
    )


def test_of_two_deliveries_only_the_first_claims_the_job(run):
    first = jobs.claim(TrainingRun, run.pk, "a@host/1")
    assert first is not None and first.attempt == 1
    assert jobs.claim(TrainingRun, run.pk, "b@host/2") is None
    run.refresh_from_db()
    assert (run.status, run.lease_owner, run.attempts) == (JobStatus.RUNNING, "a@host/1", 1)
    assert run.lease_expires_at > timezone.now()


def test_a_stale_attempt_can_write_nothing_once_another_attempt_holds_the_job(run, settings):
    stale = jobs.claim(TrainingRun, run.pk, "a@host/1")
    TrainingRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now())  # it lapsed
    fresh = jobs.claim(TrainingRun, run.pk, "b@host/2")
    assert fresh.attempt == 2
    with pytest.raises(jobs.LostLease):
        stale.update(step=99)
    with pytest.raises(jobs.LostLease):
        stale.heartbeat()
    fresh.update(step=5)
    run.refresh_from_db()
    assert (run.step, run.lost_leases, run.lease_owner) == (5, 1, "b@host/2")


def test_the_reconciler_requeues_a_lapsed_lease_and_fails_the_job_at_the_cap(
    run, settings, sent_tasks, django_capture_on_commit_callbacks
):
    settings.JOB_MAX_LOST_LEASES = 2
    jobs.claim(TrainingRun, run.pk, "a@host/1")
    TrainingRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.reconcile()["requeued"] == 1
    run.refresh_from_db()
    assert (run.status, run.lost_leases, run.lease_owner) == (JobStatus.QUEUED, 1, "")
    assert sent_tasks["quiz.tasks.train_run"] == [run.pk]

    jobs.claim(TrainingRun, run.pk, "b@host/2")
    TrainingRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now())
    jobs.reconcile()
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED
    assert "its worker was lost 2 times (the last was b@host/2" in run.error


def test_a_live_lease_is_left_alone_by_the_reconciler(run):
    jobs.claim(TrainingRun, run.pk, "a@host/1")
    assert jobs.reconcile() == {"requeued": 0, "resent": 0}
    assert TrainingRun.objects.get(pk=run.pk).status == JobStatus.RUNNING


def test_queued_jobs_are_announced_again_when_unsent_or_sent_long_ago(run, settings, sent_tasks):
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_RESEND_SECONDS + 1)
    recently = timezone.now()
    TrainingRun.objects.filter(pk=run.pk).update(created_at=long_ago, sent_at=None)
    other = TrainingRun.objects.create(dataset=run.dataset, name="sent", sent_at=recently)
    stale = TrainingRun.objects.create(dataset=run.dataset, name="old", sent_at=long_ago)
    assert jobs.resend_queued() == 2
    assert sorted(sent_tasks["quiz.tasks.train_run"]) == sorted([run.pk, stale.pk])
    assert TrainingRun.objects.get(pk=other.pk).sent_at == recently


def test_a_failed_send_leaves_the_job_queued_and_says_why(run, monkeypatch):
    from webapp.celery import app

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(app, "send_task", broker_down)
    told = []
    assert not jobs._send(TrainingRun, run.pk, told.append)
    assert "cannot be reached" in told[0] and "starts as soon as the queue is back" in told[0]
    run.refresh_from_db()
    assert (run.status, run.sent_at) == (JobStatus.QUEUED, None)


def test_a_shutting_down_worker_hands_its_training_back_with_a_checkpoint(run, sent_tasks):
    lease = jobs.claim(TrainingRun, run.pk, "gpu@host/1")
    assert jobs.request_handback("gpu@host") == 1
    assert jobs.request_handback("other@host") == 0
    job = TrainingRun.objects.get(pk=run.pk)
    gan_jobs.train(job, lease)  # stops at its first heartbeat and writes its checkpoint
    assert lease.stop_reason == "handback"
    jobs._hand_back(lease)
    run.refresh_from_db()
    assert (run.status, run.attempts, run.sent_at) == (JobStatus.QUEUED, 1, None)
    assert run.checkpoint.endswith("-attempt1.pt") and default_storage.exists(run.checkpoint)
    # Announced again by the next reconcile, however young the row (no creation send pending).
    assert jobs.resend_queued() == 1 and sent_tasks["quiz.tasks.train_run"] == [run.pk]

    resumed = jobs.run_now(run)
    assert (resumed.status, resumed.step, resumed.attempts) == (JobStatus.SUCCEEDED, 30, 2)
    # One checkpoint stays: the latest, which the row names.
    _, files = default_storage.listdir(run.work_dir)
    assert sorted(files) == sorted([Path(resumed.checkpoint).name, "samples.png"])


def test_a_finished_run_queues_its_evaluation(run):
    jobs.run_now(run)
    assert EvaluationJob.objects.get(training_run=run).status == JobStatus.QUEUED


def test_a_crash_while_storing_a_checkpoint_keeps_the_previous_one(run, monkeypatch):
    jobs.run_now(run)
    run.refresh_from_db()
    previous = run.checkpoint
    TrainingRun.objects.filter(pk=run.pk).update(status=JobStatus.QUEUED)
    lease = jobs.claim(TrainingRun, run.pk, "gpu@host/1")
    keeper = gan_jobs._CheckpointKeeper(run, lease)

    class Interrupted(Exception):
        pass

    def dies_mid_copy(path, name):
        default_storage.save(name + ".partial", ContentFile(b"half a checkpoint"))
        raise Interrupted("the process died mid-copy")

    with monkeypatch.context() as patch:
        patch.setattr(job_files, "store", dies_mid_copy)
        with pytest.raises(Interrupted):
            keeper(Path(default_storage.path(previous)), 40)
    run.refresh_from_db()
    assert run.checkpoint == previous
    saved = families.get("unconditional").load_checkpoint(Path(default_storage.path(previous)))
    assert saved["step"] == 30

    # The next complete checkpoint replaces it and removes the partial copy.
    keeper(Path(default_storage.path(previous)), 50)
    run.refresh_from_db()
    _, files = default_storage.listdir(run.work_dir)
    assert [name for name in files if name.startswith("checkpoint-")] == [Path(run.checkpoint).name]


def test_cancel_and_retry_work_on_generation_jobs_too(run, sent_tasks):
    job = GenerationJob.objects.create(training_run=run, count=3)
    assert jobs.cancel(GenerationJob.objects.filter(pk=job.pk)).cancelled == 1
    assert jobs.retry(GenerationJob.objects.filter(pk=job.pk)).requeued == [job]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and not job.cancel_requested


def test_a_worker_start_removes_the_scratch_of_exited_processes_only(settings, tmp_path):
    settings.SCRATCH_DIR = tmp_path / "scratch"
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with job_files.scratch("run-1-attempt-1") as mine:
        (mine / ".checkpoint-latest.pt.1.tmp").write_bytes(b"x" * 100)
        host = mine.name.split("__")[1]
        dead = settings.SCRATCH_DIR / f"run-2-attempt-1__{host}__{exited.stdout.strip()}"
        dead.mkdir()
        (dead / ".checkpoint-latest.pt.9.tmp").write_bytes(b"x" * 100)
        other_host = settings.SCRATCH_DIR / f"run-3-attempt-1__elsewhere__{os.getpid()}"
        other_host.mkdir()
        assert job_files.remove_stale_scratch() == 1
        assert mine.is_dir() and other_host.is_dir() and not dead.exists()
    assert not mine.exists()
