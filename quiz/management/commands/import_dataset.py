"""`python manage.py import_dataset PATH --name NAME [--profile generic]`: ingest real images.

Runs the same ingest as an upload, synchronously (no worker needed), and prints its report. With
`--fetch-sample`, PATH is first filled with the public sample images (quiz.ingest.sample_data).
Inside a folder no symbolic link is followed; the report names each one with why (`iter_folder`).
`--profile` sets a new dataset's image profile (quiz.ingest.profiles; ultrasound by default); an
existing dataset keeps its own, and asking for another one for a dataset with images is refused.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from quiz.ingest.pipeline import ingest_into_dataset
from quiz.ingest.profiles import profile_change_refusal
from quiz.ingest.sample_data import SampleFetchError, fetch_samples
from quiz.ingest.sources import iter_folder
from quiz.models import Dataset, ImageProfile


class Command(BaseCommand):
    help = "Import a folder or zip of real images (PNG, JPEG, TIFF, BMP, DICOM) into a dataset."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="A folder (searched recursively) or a zip.")
        parser.add_argument("--name", required=True, help="Dataset name; created if missing.")
        parser.add_argument("--limit", type=int, help="Import at most this many images.")
        parser.add_argument(
            "--profile",
            choices=ImageProfile.values,
            help="What ingest does to the files: ultrasound (field-of-view crop, B-mode checks, "
            "grey; the default for a new dataset) or generic (any 2-D image, kept whole, grey "
            "or colour). An existing dataset keeps its profile.",
        )
        parser.add_argument(
            "--fetch-sample",
            action="store_true",
            help="First download the public sample images (njcronin/DL_Track) into PATH.",
        )

    def handle(
        self,
        *args,
        path: Path,
        name: str,
        limit: int | None,
        profile: str | None,
        fetch_sample: bool,
        **options,
    ) -> None:
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        if fetch_sample:
            self.stdout.write(f"Downloading sample images into {path} ...")
            try:
                fetch_samples(path)
            except SampleFetchError as exc:
                raise CommandError(str(exc)) from exc
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        dataset = self._dataset(name, profile)
        if path.is_dir():
            report = ingest_into_dataset(dataset, iter_folder(path), limit=limit)
        elif path.is_file():
            with path.open("rb") as handle:
                report = ingest_into_dataset(dataset, [(path.name, handle)], limit=limit)
        else:
            raise CommandError(f"{path} is neither a folder nor a file")
        self.stdout.write(str(report))
        if not report.imported and not report.duplicates:
            raise CommandError(f"Nothing could be imported from {path}.")

    def _dataset(self, name: str, profile: str | None) -> Dataset:
        """The dataset named `name`, created with `profile` if missing; refused on a clash."""
        dataset = Dataset.objects.filter(name=name).first()
        if dataset is None:
            dataset = Dataset.objects.create(name=name, profile=profile or ImageProfile.ULTRASOUND)
            self.stdout.write(f"Created dataset {dataset.name!r} ({dataset.profile} profile).")
            return dataset
        if profile and profile != dataset.profile:
            if dataset.images.exists():
                raise CommandError(profile_change_refusal(dataset))
            dataset.profile = profile
            dataset.save(update_fields=["profile"])
        self.stdout.write(f"Adding to dataset {dataset.name!r} ({dataset.profile} profile).")
        return dataset
