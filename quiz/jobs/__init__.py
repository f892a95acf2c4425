"""One door for background jobs: create, announce, claim, heartbeat, finish, cancel, retry, reap.

Every job (ingest, training, generation, evaluation, leak audit) is a row; the row is the record
and a broker message only says "look at job N". Each kind is registered here with its task and
its work (quiz.apps): the door runs them and imports none. Nothing here trusts the broker to
deliver exactly once, or at all (docs/operations.md):

- A job is announced after the transaction that created it commits. A failed send leaves the row
  queued; the reconciler (Celery beat, every JOB_RECONCILE_SECONDS) sends it again, as it does for
  a queued row whose message is older than JOB_RESEND_SECONDS (a message lost on its own).
- A broker that lost all its messages (restarted empty) is noticed by the reconciler: it keeps a
  marker message in the broker, in a queue that no worker consumes, and a broker without it has
  lost whatever it held, so every queued job is announced again at once.
- A delivery runs the job only if it can claim it: the claim takes a lease (owner, attempt number,
  expiry) in one locked step, so of two deliveries, also on two workers, one trains and the other
  does nothing. A job queued again after an attempt runs only from a message sent after that.
- The running attempt renews its lease by heartbeats from its own loop; every write it makes goes
  through its Lease, which matches the attempt number (a fencing token) and is refused once the
  job belongs to another attempt, or was cancelled or finished without it.
- A lease that lapses means its worker is gone: the reconciler re-queues the job (a training run
  resumes from its latest checkpoint), and fails it with the reason after JOB_MAX_LOST_LEASES.
- A worker that shuts down asks its attempts to hand their jobs back: training writes a
  checkpoint, the job is queued again, and the reconciler or the next worker's start announces
  it to a worker that resumes it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from quiz.models import Job, JobStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """How one kind of job is announced and done. The door knows kinds only as registered.

    `task` is the Celery task that announces it (quiz.tasks), sent by name so that the web
    process never imports the workers' code. `work(job, lease, **options)` does the job and
    `then(job)` follows a success; both are dotted paths, imported on first use: training loads
    torch, the audit scikit-learn, and the web process that only announces jobs loads neither.
    """

    task: str
    work: str
    then: str = ""


_kinds: dict[type[Job], Kind] = {}


def register(model: type[Job], *, task: str, work: str, then: str = "") -> None:
    """Make `model` a kind of job (quiz.apps registers every kind when Django starts)."""
    _kinds[model] = Kind(task=task, work=work, then=then)


# A queued row never sent (its send failed) is re-sent after this grace, which leaves time for the
# on-commit send of a row that was just created.
_UNSENT_GRACE = timedelta(seconds=10)

# The queue of the broker's marker: no worker consumes it (settings.CELERY_TASK_ROUTES never
# names it), so its one message stays as long as the broker keeps what it holds.
BROKER_MARKER_QUEUE = "jobs-broker-marker"


class LostLease(Exception):
    """The attempt no longer holds its job: another attempt claimed it, or it was finished."""


class JobFailed(Exception):
    """The work ended in an expected failure; the message is the reason recorded on the row."""


# --- creating and announcing --------------------------------------------------------------------


def submit(job: Job, notify: Callable[[str], None] | None = None) -> Job:
    """Announce a saved job to the workers once the current transaction commits.

    When the broker cannot be reached, `notify` (e.g. an admin message) is told so; the row stays
    queued and the reconciler sends it when the broker is back.
    """
    model, pk = type(job), job.pk
    transaction.on_commit(lambda: _send(model, pk, notify))
    return job


def create(model: type[Job], notify: Callable[[str], None] | None = None, **fields) -> Job:
    with transaction.atomic():
        return submit(model.objects.create(**fields), notify)


def _send(model: type[Job], pk: int, notify: Callable[[str], None] | None = None) -> bool:
    from webapp.celery import app

    # Marked before the send: a delivery, however fast, finds its job announced (claim).
    model.objects.filter(pk=pk, status=JobStatus.QUEUED).update(sent_at=timezone.now())
    try:
        app.send_task(_kinds[model].task, args=(pk,))
    except Exception as exc:  # kombu raises OperationalError, redis ConnectionError, OSError, ...
        label = f"{model._meta.verbose_name} #{pk}"
        log.warning("could not announce %s: %s: %s", label, type(exc).__name__, exc)
        # Not known to be in the broker: the next reconcile sends it (e.g. one of the jobs
        # re-sent to a broker that restarted empty, and went down again mid-way).
        model.objects.filter(pk=pk, status=JobStatus.QUEUED).update(sent_at=None)
        if notify is not None:
            notify(
                f"The job queue cannot be reached ({type(exc).__name__}): {label} is saved as "
                "queued and starts as soon as the queue is back."
            )
        return False
    return True


# --- running ------------------------------------------------------------------------------------


@dataclass
class Lease:
    """One attempt's hold on its job. Every write of the attempt goes through `update`."""

    model: type[Job]
    pk: int
    attempt: int
    owner: str
    stop_reason: str = ""  # "cancel" or "handback", once the row asks the attempt to stop
    _last_beat: float = 0.0  # the first heartbeat reads the row's flags at once

    def update(self, **fields) -> None:
        """Write fields of the job's row, refused with LostLease for a stale attempt."""
        held = self.model.objects.filter(
            pk=self.pk, attempts=self.attempt, status=JobStatus.RUNNING
        )
        if not held.update(**fields):
            raise LostLease(
                f"{self.model._meta.verbose_name} #{self.pk}: attempt {self.attempt} "
                "no longer holds the job"
            )

    def heartbeat(self) -> bool:
        """Renew the lease (at most every JOB_HEARTBEAT_SECONDS); true once asked to stop.

        The training loop calls it before every step (it is the loop's should_stop), so a lease
        stays live exactly as long as the loop makes progress.
        """
        now = time.monotonic()
        if now - self._last_beat >= settings.JOB_HEARTBEAT_SECONDS:
            self._last_beat = now
            self.update(lease_expires_at=_lease_end())
            cancel, handback = (
                self.model.objects.filter(pk=self.pk)
                .values_list("cancel_requested", "handback_requested")
                .get()
            )
            self.stop_reason = "cancel" if cancel else "handback" if handback else ""
        return bool(self.stop_reason)

    @contextmanager
    def kept_alive(self) -> Iterator[None]:
        """Heartbeats from a thread, for work that is one long call with no loop of its own."""
        if connection.in_atomic_block:
            # Run inside a caller's transaction (a test): no other connection could write the
            # row beside it, and no reconciler could see a lapsed lease before it commits.
            yield
            return
        done = threading.Event()

        def beat() -> None:
            try:
                while not done.wait(settings.JOB_HEARTBEAT_SECONDS):
                    self._last_beat = 0.0
                    self.heartbeat()
            except LostLease:
                log.warning("%s #%s lost its lease during a long call", self.model, self.pk)
            finally:
                connection.close()  # the thread's own database connection

        thread = threading.Thread(target=beat, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()


def worker_owner(worker_name: str) -> str:
    """The lease owner of a Celery worker's process: its node name (e.g. gpu@host) and pid."""
    return f"{worker_name}/{os.getpid()}"


def run(
    model: type[Job], pk: int, owner: str, *, delivered: bool = True, **options
) -> Lease | None:
    """Claim the job and do its work; None when there was nothing to do.

    A delivery for a finished job, for one that another live attempt holds, or for one queued
    again and not yet announced again, does nothing (claim). `delivered` is false for a run
    that no message asked for (run_now).
    """
    lease = claim(model, pk, owner, delivered=delivered)
    if lease is None:
        return None
    job = model.objects.get(pk=pk)
    try:
        import_string(_kinds[model].work)(job, lease, **options)
    except LostLease as exc:
        log.warning("%s; stopping without writing", exc)
        return lease
    except JobFailed as exc:
        _finish(lease, JobStatus.FAILED, str(exc))
        return lease
    except Exception as exc:
        log.exception("%s #%s failed", model._meta.verbose_name, pk)
        _finish(lease, JobStatus.FAILED, f"{type(exc).__name__}: {exc}")
        return lease
    except BaseException:  # KeyboardInterrupt in a command, SystemExit: the job is not lost
        _hand_back(lease)
        raise
    if lease.stop_reason == "handback":
        _hand_back(lease)
    elif lease.stop_reason == "cancel":
        _finish(lease, JobStatus.CANCELLED)
    else:
        _finish(lease, JobStatus.SUCCEEDED)
        _follow_up(job)
    return lease


def run_now(job: Job, **options) -> Job:
    """Run a job in this process (management commands), through the same claim as a worker."""
    run(
        type(job),
        job.pk,
        f"{socket.gethostname()} command/{os.getpid()}",
        delivered=False,
        **options,
    )
    job.refresh_from_db()
    return job


def claim(model: type[Job], pk: int, owner: str, delivered: bool = True) -> Lease | None:
    """Take the job for one attempt; None when this delivery has nothing to do.

    A job queued again after an attempt (handed back, or its lease lapsed) waits with `sent_at`
    empty until it is announced again (_send marks it before sending). A message delivered in
    between is older than that, a duplicate: it does nothing. Without this rule a worker that is
    shutting down could take such a duplicate right after handing the job back, and start it.
    """
    now = timezone.now()
    with transaction.atomic():
        # The row lock (PostgreSQL) or the write transaction (SQLite, IMMEDIATE mode) makes the
        # check and the claim one step.
        job = model.objects.select_for_update().filter(pk=pk).first()
        if job is None:
            log.warning("%s #%s does not exist", model._meta.verbose_name, pk)
            return None
        if job.status == JobStatus.RUNNING and not job.lease_is_live:
            # Its worker vanished and the reconciler has not noticed yet.
            if not _count_lost_lease(job, now):
                return None
        elif job.status != JobStatus.QUEUED:
            log.info(
                "%s #%s is %s%s: nothing to do",
                model._meta.verbose_name,
                pk,
                job.status,
                f" under {job.lease_owner}'s lease" if job.status == JobStatus.RUNNING else "",
            )
            return None
        elif delivered and job.attempts and job.sent_at is None:
            log.info(
                "%s #%s is queued again and not announced yet: an older message, nothing to do",
                model._meta.verbose_name,
                pk,
            )
            return None
        model.objects.filter(pk=pk).update(
            status=JobStatus.RUNNING,
            attempts=F("attempts") + 1,
            lease_owner=owner,
            lease_expires_at=_lease_end(),
            handback_requested=False,
            started_at=now,
            error="",
        )
        return Lease(model, pk, job.attempts + 1, owner)


def _finish(lease: Lease, status: str, error: str = "") -> None:
    lease.update(
        status=status,
        error=error,
        finished_at=timezone.now(),
        lease_owner="",
        lease_expires_at=None,
    )


def _hand_back(lease: Lease) -> None:
    # Queued but not announced: a worker that is shutting down may still take one more message,
    # and would start the job it is handing back. The reconciler, or the next worker's start,
    # announces it (sent_at is empty).
    lease.update(
        status=JobStatus.QUEUED,
        lease_owner="",
        lease_expires_at=None,
        handback_requested=False,
        sent_at=None,
    )
    log.info("%s #%s handed back for a later start", lease.model._meta.verbose_name, lease.pk)


def _follow_up(job: Job) -> None:
    if then := _kinds[type(job)].then:
        import_string(then)(job)


def _lease_end():
    return timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)


# --- staff actions ------------------------------------------------------------------------------


@dataclass
class CancelResult:
    cancelled: int  # queued, or running with no live worker: cancelled at once
    stopping: int  # running: their attempt stops at its next heartbeat


def cancel(jobs: QuerySet) -> CancelResult:
    now = timezone.now()
    stranded = Q(status=JobStatus.RUNNING) & (
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True)
    )
    cancelled = jobs.filter(Q(status=JobStatus.QUEUED) | stranded).update(
        status=JobStatus.CANCELLED,
        cancel_requested=True,
        finished_at=now,
        lease_owner="",
        lease_expires_at=None,
    )
    stopping = jobs.filter(status=JobStatus.RUNNING).update(cancel_requested=True)
    return CancelResult(cancelled, stopping)


@dataclass
class RetryResult:
    requeued: list[Job]
    refused: list[str]  # "name: reason"


def retry(jobs: QuerySet, notify: Callable[[str], None] | None = None) -> RetryResult:
    """Queue failed, cancelled and stranded jobs again (a training run resumes its checkpoint)."""
    result = RetryResult([], [])
    for job in jobs:
        if job.status == JobStatus.SUCCEEDED:
            result.refused.append(f"{job}: it already succeeded")
            continue
        if job.lease_is_live:
            result.refused.append(
                f"{job}: it is running on {job.lease_owner} (lease until "
                f"{job.lease_expires_at:%H:%M:%S} UTC); cancel it first"
            )
            continue
        with transaction.atomic():
            type(job).objects.filter(pk=job.pk).update(
                status=JobStatus.QUEUED,
                cancel_requested=False,
                handback_requested=False,
                error="",
                finished_at=None,
                lease_owner="",
                lease_expires_at=None,
                lost_leases=0,
                sent_at=None,
            )
            submit(job, notify)
        result.requeued.append(job)
    return result


# --- the reconciler (Celery beat) and the worker's own start and stop ---------------------------


def reconcile() -> dict[str, int]:
    """Re-queue jobs whose lease lapsed and (re-)send queued jobs whose message may be lost.

    A broker found without its marker lost every message it held: all queued jobs are sent
    again. A broker that cannot be reached is sent nothing (the next reconcile tries again).
    """
    requeued = reap_expired_leases()
    try:
        emptied = mark_broker()
    except Exception as exc:  # kombu's OperationalError, redis' ConnectionError, OSError, ...
        log.warning("the job queue cannot be reached (%s: %s)", type(exc).__name__, exc)
        return {"requeued": requeued, "resent": 0, "broker_emptied": 0}
    return {
        "requeued": requeued,
        "resent": resend_queued(every_queued_job=emptied),
        "broker_emptied": int(emptied),
    }


def mark_broker() -> bool:
    """Leave a marker in the broker if it holds none; true when it held none.

    The marker is a message in BROKER_MARKER_QUEUE, kept where the broker keeps the jobs'
    messages (a Redis list; a file in the embedded broker's queue folder), so whatever loses
    those loses the marker too: a Redis restarted without persistence, a FLUSHDB, the queue
    folder removed. A broker that never had a marker (a new one) counts as emptied as well; the
    announcements that this sends again are harmless duplicates. Two reconcilers that find no
    marker at once each leave one and each announce the queued jobs: duplicates again.
    """
    from webapp.celery import app

    with app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1)  # a broker that is down fails now, not forever
        channel = broker.default_channel
        if channel.queue_declare(queue=BROKER_MARKER_QUEUE).message_count:
            return False
        broker.Producer(channel).publish(
            {"marked_at": timezone.now().isoformat()},
            exchange="",  # the default exchange: straight into the queue of this name
            routing_key=BROKER_MARKER_QUEUE,
        )
    return True


def reap_expired_leases() -> int:
    now = timezone.now()
    requeued = 0
    for model in _kinds:
        expired = model.objects.filter(status=JobStatus.RUNNING).filter(
            Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True)
        )
        for job in expired:
            with transaction.atomic():
                if not _count_lost_lease(job, now):
                    continue
                # Matched on the attempt and the lapsed lease: a heartbeat that came in since
                # the query keeps its job.
                if model.objects.filter(
                    Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True),
                    pk=job.pk,
                    attempts=job.attempts,
                ).update(
                    status=JobStatus.QUEUED, lease_owner="", lease_expires_at=None, sent_at=None
                ):
                    requeued += 1  # announced by resend_queued, as any unsent queued job

    return requeued


def _count_lost_lease(job: Job, now) -> bool:
    """Record that the job's worker vanished; false when that was the last chance (it failed)."""
    model = type(job)
    lost = job.lost_leases + 1
    if lost >= settings.JOB_MAX_LOST_LEASES:
        model.objects.filter(pk=job.pk, attempts=job.attempts).update(
            status=JobStatus.FAILED,
            lost_leases=lost,
            finished_at=now,
            lease_owner="",
            lease_expires_at=None,
            error=f"its worker was lost {lost} times (the last was {job.lease_owner or 'unknown'}, "
            "whose lease lapsed); retry it once the workers are healthy",
        )
        log.error(
            "%s #%s failed: its worker was lost %s times", model._meta.verbose_name, job.pk, lost
        )
        return False
    model.objects.filter(pk=job.pk, attempts=job.attempts).update(lost_leases=lost)
    log.warning(
        "%s #%s: the lease of %s lapsed; queued again",
        model._meta.verbose_name,
        job.pk,
        job.lease_owner,
    )
    return True


def resend_queued(every_queued_job: bool = False) -> int:
    """Announce again the queued jobs whose message may be lost; every one after the broker
    lost its messages (mark_broker). How many were sent."""
    now = timezone.now()
    stale = Q(sent_at__lt=now - timedelta(seconds=settings.JOB_RESEND_SECONDS))
    # Never sent: a failed send (after the grace that an on-commit send needs), or a job handed
    # back by a stopping worker (it was claimed before, so no send of its creation is pending).
    unsent = Q(sent_at__isnull=True) & (Q(created_at__lt=now - _UNSENT_GRACE) | Q(attempts__gt=0))
    lost = Q() if every_queued_job else stale | unsent
    queued = {
        model: list(
            model.objects.filter(lost, status=JobStatus.QUEUED).values_list("pk", flat=True)
        )
        for model in _kinds
    }
    if every_queued_job:
        log.warning(
            "the job queue holds no marker: it lost its messages (restarted empty) or is new; "
            "announcing every queued job again: %s",
            ", ".join(
                f"{model._meta.verbose_name} #{pk}" for model, pks in queued.items() for pk in pks
            )
            or "none",
        )
    return sum(_send(model, pk) for model, pks in queued.items() for pk in pks)


def request_handback(worker_name: str) -> int:
    """Ask every attempt of a shutting-down worker to checkpoint and hand its job back."""
    return sum(
        model.objects.filter(
            status=JobStatus.RUNNING, lease_owner__startswith=f"{worker_name}/"
        ).update(handback_requested=True)
        for model in _kinds
    )
