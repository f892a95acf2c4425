"""Audit a study for leaks: take its quiz over HTTP and tell the kinds apart without pixels."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from quiz import jobs
from quiz.integrity.leak_audit.crawl import DEFAULT_MAX_ROUNDS, DEFAULT_OBSERVATIONS
from quiz.integrity.leak_audit.report import describe
from quiz.models import LeakAudit, Study


class Command(BaseCommand):
    help = (
        "Take the study's quiz as participants would and train a classifier on everything but "
        "the pixels of its panels; exits 1 when the study fails the audit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The study's slug.")
        parser.add_argument(
            "--url",
            help="Audit the site running at this URL (it must share this database). "
            "Default: a server started in this process.",
        )
        parser.add_argument(
            "--observations",
            type=int,
            default=DEFAULT_OBSERVATIONS,
            help=f"Panels to observe (default {DEFAULT_OBSERVATIONS}).",
        )
        parser.add_argument(
            "--max-rounds",
            type=int,
            default=DEFAULT_MAX_ROUNDS,
            help=f"Rounds per simulated participant at most (default {DEFAULT_MAX_ROUNDS}).",
        )
        parser.add_argument(
            "--publish", action="store_true", help="Publish the study if it passes."
        )

    def handle(
        self,
        *args,
        slug: str,
        url: str | None,
        observations: int,
        max_rounds: int,
        publish: bool,
        **options,
    ) -> None:
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with the slug {slug!r}.", returncode=2)
        if observations < 10:
            raise CommandError("--observations must be at least 10.", returncode=2)
        self.stdout.write(f"Auditing {study} ({observations} panels)…")
        audit = LeakAudit.objects.create(study=study, publish_on_pass=publish)
        jobs.run_now(audit, base_url=url, observations=observations, max_rounds=max_rounds)
        for line in describe(audit):
            self.stdout.write(line)
        if not audit.passed:
            raise CommandError(f"{study} failed its leak audit.", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"{study} passed its leak audit."))
