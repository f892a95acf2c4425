"""`python manage.py import_synthetic PATH --generator NAME`: a generator's images made elsewhere.

Runs the import job of an admin upload (a GeneratorImport, quiz.ingest.synthetic) in this
process, through the same door as a worker (`jobs.run_now`), and prints its report. PATH is a
folder (searched recursively, no symbolic link followed) or a file (a zip, or one image). The
generator is created when missing; a generator trained here (a run) takes no imports.
"""

from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from quiz import jobs
from quiz.ingest.report import IngestReport
from quiz.ingest.sources import Source, iter_folder
from quiz.ingest.synthetic import read_manifest
from quiz.models import Dataset, Generator, GeneratorImport, JobStatus


class Command(BaseCommand):
    help = "Import a folder or zip of a generator's images (made elsewhere) as synthetic images."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="A folder (searched recursively) or a file.")
        parser.add_argument("--generator", required=True, help="Generator name; created if new.")
        parser.add_argument("--description", help="What the generator is (kept on it).")
        parser.add_argument(
            "--trained-on", help="The name of the dataset here that it was trained on."
        )
        parser.add_argument(
            "--training-manifest",
            type=Path,
            help="The real images it trained on: file names or pixel SHA-256s, one a line "
            "(docs/ingest.md). Without one, the held-out status of real panels beside its "
            "images is unknown.",
        )
        parser.add_argument("--masks", type=Path, help="A folder or zip of masks, paired by name.")

    def handle(self, *args, path: Path, generator: str, **options) -> None:
        for given in (path, options["masks"], options["training_manifest"]):
            if given is not None and not given.exists():
                raise CommandError(f"{given} does not exist")
        target = self._generator(generator, options["description"], options["trained_on"])
        job = GeneratorImport.objects.create(generator=target)
        manifest = None
        if options["training_manifest"] is not None:
            with options["training_manifest"].open("rb") as handle:
                manifest = (options["training_manifest"].name, read_manifest(handle))
        with ExitStack() as stack:
            files, masks = _open(path, stack), _open(options["masks"], stack)
            job = jobs.run_now(job, files=files, masks=masks, manifest=manifest)
        self.stdout.write(str(IngestReport.of_job(job)))
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(job.error or f"The import ended {job.status}.")
        target.refresh_from_db()
        if target.manifest_hashes is None:
            self.stdout.write(
                f"No training manifest: the held-out status of real panels beside "
                f"“{target}”'s images is unknown, and study reports say so."
            )

    def _generator(self, name: str, description: str | None, trained_on: str | None) -> Generator:
        dataset = None
        if trained_on is not None:
            dataset = Dataset.objects.filter(name=trained_on).first()
            if dataset is None:
                raise CommandError(f"No dataset is named {trained_on!r}.")
        with transaction.atomic():
            generator, created = Generator.objects.get_or_create(name=name)
            if not generator.is_external:
                raise CommandError(
                    f"“{generator}” is a run trained here: its images come from its checkpoints, "
                    "not from an import. Choose another generator name."
                )
            changed = []
            if description is not None:
                generator.description, changed = description, [*changed, "description"]
            if dataset is not None:
                generator.trained_on, changed = dataset, [*changed, "trained_on"]
            if changed:
                generator.save(update_fields=changed)
        self.stdout.write(f"{'Created' if created else 'Adding to'} generator {generator.name!r}.")
        return generator


def _open(path: Path | None, stack: ExitStack) -> Iterable[tuple[str, Source]] | None:
    """The (name, file) pairs of a folder, or of one file; None for no path."""
    if path is None:
        return None
    if path.is_dir():
        return iter_folder(path)
    return [(path.name, stack.enter_context(path.open("rb")))]
