"""`python manage.py export_trials STUDY [--wide | --metadata] [--output FILE]`.

A study's data as on its statistics page: every trial as CSV, one a row (the default); with
`--wide`, one row per session; with `--metadata`, the Psych-DS `dataset_description.json` that
describes the columns of both. The recruitment platform's ids are included: the command is for
staff, who hold the database anyway.
"""

import csv
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from quiz.analysis.exports import WIDE_FIELDS, dataset_description, export_names, wide_rows
from quiz.analysis.trials import TRIAL_FIELDS, trial_rows
from quiz.models import Study


class Command(BaseCommand):
    help = (
        "Write a study's trials as CSV (the statistics page's download); --wide: one row per "
        "session; --metadata: the Psych-DS dataset_description.json of both."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("study", help="The study's slug.")
        parser.add_argument("--output", "-o", type=Path, help="A file to write; default stdout.")
        what = parser.add_mutually_exclusive_group()
        what.add_argument("--wide", action="store_true", help="One row per session.")
        what.add_argument(
            "--metadata", action="store_true", help="The Psych-DS dataset_description.json."
        )

    def handle(self, *args, study: str, output: Path | None, **options) -> None:
        found = Study.objects.filter(slug=study).first()
        if found is None:
            raise CommandError(f"No study with the slug {study!r}.")
        try:
            handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
        except OSError as exc:
            raise CommandError(f"{output}: cannot be written ({exc.strerror or exc})") from exc
        try:
            if options["metadata"]:
                trials_file, wide_file, _ = export_names(found)
                description = dataset_description(
                    found, trials_file=trials_file, wide_file=wide_file
                )
                handle.write(json.dumps(description, indent=2, ensure_ascii=False) + "\n")
                what = "the metadata"
            else:
                fields, rows = (
                    (WIDE_FIELDS, wide_rows(found)) if options["wide"] else (TRIAL_FIELDS, None)
                )
                writer = csv.DictWriter(handle, fieldnames=fields)
                writer.writeheader()
                count = 0
                for row in rows if rows is not None else trial_rows(found):
                    writer.writerow(row)
                    count += 1
                what = f"{count} {'sessions' if options['wide'] else 'trials'}"
        finally:
            if output:
                handle.close()
        if output:
            self.stderr.write(f"Wrote {what} of {found} to {output}.")
