"""What one ingest or import did, file by file: the report staff and commands read.

The same shape for real images brought into a dataset (quiz.ingest.pipeline) and a generator's
images (quiz.ingest.synthetic): counts, then one entry per file (or frame) that was not simply
imported, each naming the file and the reason. Jobs store the lists in their row's fields of the
same names (IngestJob, GeneratorImport), so the admin shows either the same way.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.storage import default_storage

from quiz.ingest.crop_review import CropCounts
from quiz.jobs import JobFailed, Lease


@dataclass
class IngestReport:
    """What one ingest did, one entry per file (or frame) that was not simply imported."""

    imported: int = 0
    duplicates: int = 0  # exact and near-duplicates; each is also named in `skipped`
    rejections: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    flagged: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)
    crops: CropCounts | None = None  # the dataset's, after this ingest

    @classmethod
    def of_job(cls, job) -> "IngestReport":
        """The report a job recorded (an IngestJob or a GeneratorImport: the same fields)."""
        return cls(
            imported=job.imported_count,
            duplicates=job.duplicate_count,
            rejections=job.rejections,
            skipped=job.skipped,
            flagged=job.flagged,
            notes=job.notes,
        )

    def lines(self) -> list[str]:
        summary = f"Imported {plural(self.imported, 'image')}"
        if self.duplicates:
            summary += f" ({plural(self.duplicates, 'duplicate')} skipped)"
        if self.rejections:
            summary += f"; rejected {plural(len(self.rejections), 'file')}"
        sections = [
            ("", self.rejections),
            (f"Skipped {plural(len(self.skipped), 'file')}:", self.skipped),
            (
                f"Flagged {plural(len(self.flagged), 'image')} as not plain B-mode (kept out of "
                "training and studies until staff accept them on the dataset's crop review):",
                self.flagged,
            ),
            ("Notes:", self.notes),
        ]
        lines = [summary + ":"] if self.rejections else [summary + "."]
        for heading, entries in sections:
            if entries and heading:
                lines.append(heading)
            lines += [f"  {item['file']}: {item['reason']}" for item in entries]
        if self.crops is not None:
            lines.append(f"Crops of the dataset: {self.crops}.")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def entry(name: str, reason: str) -> dict[str, str]:
    return {"file": name, "reason": reason}


def record_report(lease: Lease, report: IngestReport) -> None:
    """Write the report to the job's row (an IngestJob or a GeneratorImport)."""
    lease.update(
        imported_count=report.imported,
        duplicate_count=report.duplicates,
        rejections=report.rejections,
        skipped=report.skipped,
        flagged=report.flagged,
        notes=report.notes,
    )


def split_missing(uploads: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[dict]]:
    """The stored uploads still present, and a rejection naming each one that is gone."""
    present = [upload for upload in uploads if default_storage.exists(upload["stored"])]
    missing = [
        entry(upload["name"], "the uploaded file is missing")
        for upload in uploads
        if upload not in present
    ]
    return present, missing


def stopped_at_time_limit(report: IngestReport, what: str, task: str, setting: str) -> JobFailed:
    """The failure of a job stopped by its soft time limit, after what it had done."""
    limit = settings.JOB_TIME_LIMITS[task]
    return JobFailed(
        f"Stopped at the {what} time limit ({limit} s, {setting}) after "
        f"{plural(report.imported, 'image')}: those are kept, and the uploaded files stay "
        "for another try."
    )
