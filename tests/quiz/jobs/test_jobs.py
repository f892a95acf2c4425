"""quiz.jobs in one process: claims, fencing, the reconciler, hand-back, and checkpoints kept safe.

The same rules with real worker processes, brokers and kills: tests/integration/test_faults.py.
"""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from ganengine import families
from quiz import jobs
from quiz.jobs import gan, workspace
from quiz.models import Dataset, EvaluationJob, GenerationJob, JobStatus, TrainingRun
from tests.integration.conftest import embedded_broker_options
from webapp.celery import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def broker_queue(tmp_path) -> Iterator[Path]:
    """The embedded broker (kombu's filesystem transport) in this test's folder; its queue folder.

    The reconciler leaves its marker in the broker: here, never in the checkout's var/.
    """
    saved = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    celery_app.conf.broker_url = "filesystem://"
    celery_app.conf.broker_transport_options = embedded_broker_options(tmp_path)
    yield tmp_path / "broker" / "queue"
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = saved


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
    jobs.mark_broker()  # a broker that kept its messages
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
    jobs.mark_broker()
    assert jobs.reconcile() == {"requeued": 0, "resent": 0, "broker_emptied": 0}
    assert TrainingRun.objects.get(pk=run.pk).status == JobStatus.RUNNING


def test_a_broker_that_lost_its_marker_gets_every_queued_job_announced_again(
    run, sent_tasks, broker_queue
):
    TrainingRun.objects.filter(pk=run.pk).update(sent_at=timezone.now())  # its message is fresh
    running = TrainingRun.objects.create(dataset=run.dataset, name="running")
    jobs.claim(TrainingRun, running.pk, "a@host/1")
    jobs.mark_broker()
    assert jobs.reconcile() == {"requeued": 0, "resent": 0, "broker_emptied": 0}
    assert sent_tasks["quiz.tasks.train_run"] == []

    # The embedded broker's queue folder emptied, as a Redis restarted without its data is.
    for message in broker_queue.iterdir():
        message.unlink()
    queued = list(TrainingRun.objects.filter(status=JobStatus.QUEUED).values_list("pk", flat=True))
    assert run.pk in queued and running.pk not in queued
    assert jobs.reconcile() == {"requeued": 0, "resent": len(queued), "broker_emptied": 1}
    # Every queued run, however recent its message; not the running one, whose claim is held.
    assert sorted(sent_tasks["quiz.tasks.train_run"]) == sorted(queued)
    # The marker is back: the next reconcile leaves the fresh message alone.
    assert [path.name.split(".", 1)[1] for path in broker_queue.iterdir()] == [
        f"{jobs.BROKER_MARKER_QUEUE}.msg"
    ]
    assert jobs.reconcile()["broker_emptied"] == 0
    assert sorted(sent_tasks["quiz.tasks.train_run"]) == sorted(queued)


def test_an_unreachable_broker_is_sent_nothing_and_leases_are_still_reaped(run, sent_tasks):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    celery_app.conf.broker_url = f"redis://127.0.0.1:{closed_port}/0"  # restored by broker_queue
    jobs.claim(TrainingRun, run.pk, "a@host/1")
    TrainingRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now())
    assert jobs.reconcile() == {"requeued": 1, "resent": 0, "broker_emptied": 0}
    assert sent_tasks["quiz.tasks.train_run"] == []
    assert TrainingRun.objects.get(pk=run.pk).status == JobStatus.QUEUED


def test_queued_jobs_are_announced_again_when_unsent_or_sent_long_ago(run, settings, sent_tasks):
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_RESEND_SECONDS + 1)
    recently = timezone.now()
    TrainingRun.objects.filter(pk=run.pk).update(created_at=long_ago, sent_at=None)
    other = TrainingRun.objects.create(dataset=run.dataset, name="sent", sent_at=recently)
    stale = TrainingRun.objects.create(dataset=run.dataset, name="old", sent_at=long_ago)
    assert jobs.resend_queued() == 2
    assert sorted(sent_tasks["quiz.tasks.train_run"]) == sorted([run.pk, stale.pk])
    assert TrainingRun.objects.get(pk=other.pk).sent_at == recently


def test_a_failed_send_leaves_the_job_queued_as_unsent_and_says_why(run, monkeypatch):
    from webapp.celery import app

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(app, "send_task", broker_down)
    # Sent once before (a re-send that fails): the job is no longer known to be in the broker.
    TrainingRun.objects.filter(pk=run.pk).update(sent_at=timezone.now())
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
    gan.train(job, lease)  # stops at its first heartbeat and writes its checkpoint
    assert lease.stop_reason == "handback"
    jobs._hand_back(lease)
    run.refresh_from_db()
    assert (run.status, run.attempts, run.sent_at) == (JobStatus.QUEUED, 1, None)
    assert run.checkpoint.endswith("-attempt1.pt") and default_storage.exists(run.checkpoint)
    # A message older than the hand-back (a duplicate), delivered to the worker that is still
    # shutting down, does nothing: the run waits for its next announcement.
    assert jobs.claim(TrainingRun, run.pk, "gpu@host/1") is None
    # Announced again by the next reconcile, however young the row (no creation send pending).
    assert jobs.resend_queued() == 1 and sent_tasks["quiz.tasks.train_run"] == [run.pk]

    jobs.run(TrainingRun, run.pk, "gpu@host/2")  # the delivery of that announcement
    resumed = TrainingRun.objects.get(pk=run.pk)
    assert (resumed.status, resumed.step, resumed.attempts) == (JobStatus.SUCCEEDED, 30, 2)
    # One checkpoint stays: the latest, which the row names.
    _, files = default_storage.listdir(run.work_dir)
    assert sorted(files) == sorted([Path(resumed.checkpoint).name, "samples.png"])


def test_a_resumed_run_cuts_its_history_at_its_checkpoints_step_not_its_last_report(run):
    config = families.get("unconditional").preset("tiny", steps=20, progress_every=5)
    TrainingRun.objects.filter(pk=run.pk).update(config=config.to_dict(), total_steps=20)
    jobs.run_now(run)
    run.refresh_from_db()
    assert gan.checkpoint_step(Path(default_storage.path(run.checkpoint))) == 20
    # Its worker killed after reporting step 25 of a run extended to 30: the row's step and
    # history are past the checkpoint that a new attempt resumes.
    metrics = {name: [*values, 9.5] for name, values in run.metrics.items()}
    metrics["step"][-1] = 25
    longer = families.get("unconditional").preset("tiny", steps=30, progress_every=5)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=JobStatus.QUEUED, step=25, total_steps=30, metrics=metrics, config=longer.to_dict()
    )
    jobs.run_now(run)
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.metrics["step"] == [5, 10, 15, 20, 25, 30]
    # Every series stays aligned with the steps; the killed attempt's point at 25 is gone.
    assert {len(values) for values in run.metrics.values()} == {6}
    assert 9.5 not in run.metrics["d"] + run.metrics["g"]


def test_the_history_cut_keeps_the_points_up_to_the_step_in_every_series():
    history = {"step": [10, 20, 30, 40], "d": [1.0, 2.0, 3.0, 4.0], "g": [5.0, 6.0, 7.0, 8.0]}
    assert gan.history_up_to(history, 30) == {
        "step": [10, 20, 30],
        "d": [1.0, 2.0, 3.0],
        "g": [5.0, 6.0, 7.0],
    }
    assert gan.history_up_to(history, 25)["step"] == [10, 20]
    assert gan.history_up_to(history, 0) == {"step": [], "d": [], "g": []}
    assert gan.history_up_to({}, 30) == {}


def test_a_finished_run_queues_its_evaluation(run):
    jobs.run_now(run)
    assert EvaluationJob.objects.get(training_run=run).status == JobStatus.QUEUED


def test_a_crash_while_storing_a_checkpoint_keeps_the_previous_one(run, monkeypatch):
    jobs.run_now(run)
    run.refresh_from_db()
    previous = run.checkpoint
    TrainingRun.objects.filter(pk=run.pk).update(status=JobStatus.QUEUED, sent_at=timezone.now())
    lease = jobs.claim(TrainingRun, run.pk, "gpu@host/1")
    keeper = gan._CheckpointKeeper(run, lease)

    class Interrupted(Exception):
        pass

    def dies_mid_copy(path, name):
        default_storage.save(name + ".partial", ContentFile(b"half a checkpoint"))
        raise Interrupted("the process died mid-copy")

    with monkeypatch.context() as patch:
        patch.setattr(workspace, "store", dies_mid_copy)
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
    with workspace.scratch("run-1-attempt-1") as mine:
        (mine / ".checkpoint-latest.pt.1.tmp").write_bytes(b"x" * 100)
        host = mine.name.split("__")[1]
        dead = settings.SCRATCH_DIR / f"run-2-attempt-1__{host}__{exited.stdout.strip()}"
        dead.mkdir()
        (dead / ".checkpoint-latest.pt.9.tmp").write_bytes(b"x" * 100)
        other_host = settings.SCRATCH_DIR / f"run-3-attempt-1__elsewhere__{os.getpid()}"
        other_host.mkdir()
        assert workspace.remove_stale_scratch() == 1
        assert mine.is_dir() and other_host.is_dir() and not dead.exists()
    assert not mine.exists()
