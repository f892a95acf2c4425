"""`python manage.py import_dataset PATH --name NAME`: ingest a folder or zip of real images.

Runs the same ingest as an upload, synchronously (no worker needed), and prints its report. With
`--fetch-sample`, PATH is first filled with the public sample images (quiz.ingest.sample_data).
Inside a folder no symbolic link is followed; the report names each one with why (`iter_folder`).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from quiz.ingest.pipeline import ingest_into_dataset
from quiz.ingest.sample_data import SampleFetchError, fetch_samples
from quiz.ingest.sources import iter_folder
from quiz.models import Dataset


class Command(BaseCommand):
    help = "Import a folder or zip of real images (PNG, JPEG, TIFF, BMP, DICOM) into a dataset."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="A folder (searched recursively) or a zip.")
        parser.add_argument("--name", required=True, help="Dataset name; created if missing.")
        parser.add_argument("--limit", type=int, help="Import at most this many images.")
        parser.add_argument(
            "--fetch-sample",
            action="store_true",
            help="First download the public sample images (njcronin/DL_Track) into PATH.",
        )

    def handle(
        self, *args, path: Path, name: str, limit: int | None, fetch_sample: bool, **options
    ) -> None:
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        if fetch_sample:
            self.stdout.write(f"Downloading sample images into {path} ...")
            try:
                fetch_samples(path)
            except SampleFetchError as exc:
                raise CommandError(str(exc)) from exc
        if path.is_dir():
            report = self._import(name, iter_folder(path), limit)
        elif path.is_file():
            with path.open("rb") as handle:
                report = self._import(name, [(path.name, handle)], limit)
        else:
            raise CommandError(f"{path} does not exist")
        self.stdout.write(str(report))
        if not report.imported and not report.duplicates:
            raise CommandError(f"Nothing could be imported from {path}.")

    def _import(self, name: str, files, limit: int | None):
        dataset, created = Dataset.objects.get_or_create(name=name)
        self.stdout.write(f"{'Created' if created else 'Adding to'} dataset {dataset.name!r}.")
        return ingest_into_dataset(dataset, files, limit=limit)
