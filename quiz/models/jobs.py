"""What every background job's row records; quiz.jobs is the one place that changes it.

A job's row is the source of truth for its status: the broker only triggers the work, so a lost
message never loses a job's history.
"""

from django.db import models
from django.utils import timezone

from quiz.models.tokens import new_token


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


class UploadJob(Job):
    """A job that reads uploaded files and reports on each: ingest of real scans, a generator's
    import. Both reports have one shape (quiz.ingest.report.IngestReport)."""

    token = models.CharField(max_length=32, default=new_token, unique=True, editable=False)
    # The uploaded files, kept under uploads/<token>/ in storage until the job has read them: each
    # {"stored": the generated storage name, "name": the file's name as uploaded, for the report}.
    uploads = models.JSONField(default=list)
    imported_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    # Each a list of {"file": "scan.png", "reason": "..."}, one entry per file (or frame):
    # turned away; left out (a duplicate, a near-duplicate, an unsafe name, a mask with no image,
    # a manifest entry naming nothing); imported but flagged as not plain B-mode (real scans
    # only); imported with a remark (frames kept, windowing, crop fallback, a missing mask).
    rejections = models.JSONField(default=list)
    skipped = models.JSONField(default=list)
    flagged = models.JSONField(default=list)
    notes = models.JSONField(default=list)

    class Meta:
        abstract = True

    @property
    def upload_dir(self) -> str:
        return f"uploads/{self.token}"
