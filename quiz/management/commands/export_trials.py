"""`python manage.py export_trials STUDY [--output FILE]`: a study's trials as CSV, one a row."""

import csv
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from quiz.analysis.trials import TRIAL_FIELDS, trial_rows
from quiz.models import Study


class Command(BaseCommand):
    help = "Write every trial of a study as CSV (the columns of the statistics page's download)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("study", help="The study's slug.")
        parser.add_argument("--output", "-o", type=Path, help="A file to write; default stdout.")

    def handle(self, *args, study: str, output: Path | None, **options) -> None:
        found = Study.objects.filter(slug=study).first()
        if found is None:
            raise CommandError(f"No study with the slug {study!r}.")
        handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
        try:
            writer = csv.DictWriter(handle, fieldnames=TRIAL_FIELDS)
            writer.writeheader()
            rows = 0
            for row in trial_rows(found):
                writer.writerow(row)
                rows += 1
        finally:
            if output:
                handle.close()
        if output:
            self.stderr.write(f"Wrote {rows} trials of {found} to {output}.")
