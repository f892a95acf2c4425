"""Build a study: held-out real images of a dataset and the same number from each generator."""

from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug

from quiz.models import Dataset, Generator, Layout
from quiz.studies.builder import BuildError, create_study, plan_study


class Command(BaseCommand):
    help = (
        "Create a study from held-out real images of a dataset and N images of each generator "
        "(balanced, seeded); prints what it chose and each image it refused and why. Exits 2 on "
        "bad arguments or a plan that cannot make a study, 1 when --publish fails its audit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="The study's name.")
        parser.add_argument("--slug", required=True, help="Its URL: /quiz/<slug>/.")
        parser.add_argument("--real", required=True, metavar="DATASET", help="Dataset name.")
        parser.add_argument(
            "--generator",
            required=True,
            action="append",
            metavar="NAME",
            help="A generator's name; repeat it to compare generators.",
        )
        parser.add_argument(
            "--real-count",
            type=int,
            help="Real images (default: as many as all the synthetic images together).",
        )
        parser.add_argument(
            "--per-generator",
            type=int,
            help="Images of each generator (default: the most every generator can give).",
        )
        parser.add_argument("--layout", choices=Layout.values, default=Layout.GRID)
        parser.add_argument(
            "--seed",
            type=int,
            default=0,
            help="Seed of the draw (default 0): same seed, same study.",
        )
        parser.add_argument(
            "--mixed-modes-acknowledgement",
            default="",
            metavar="STATEMENT",
            help="Why a mix of grey and colour images is acceptable; a plan that mixes them is "
            "refused without it (the study keeps it, and its report prints it).",
        )
        parser.add_argument(
            "--publish",
            action="store_true",
            help="Then publish it as audit_leaks --publish does: the rules, the leak audit in "
            "this process, and publishing only if it passes.",
        )

    def handle(self, *args, **options) -> None:
        try:
            validate_slug(options["slug"])
        except ValidationError:
            raise CommandError(
                f"--slug {options['slug']!r}: use letters, numbers, hyphens or underscores.",
                returncode=2,
            ) from None
        dataset = Dataset.objects.filter(name=options["real"]).first()
        if dataset is None:
            known = ", ".join(Dataset.objects.order_by("name").values_list("name", flat=True))
            raise CommandError(
                f"No dataset named {options['real']!r} (datasets: {known or 'none'}).",
                returncode=2,
            )
        generators = []
        for name in options["generator"]:
            generator = Generator.objects.filter(name=name).select_related("training_run").first()
            if generator is None:
                known = ", ".join(Generator.objects.order_by("name").values_list("name", flat=True))
                raise CommandError(
                    f"No generator named {name!r} (generators: {known or 'none'}).", returncode=2
                )
            generators.append(generator)
        try:
            plan = plan_study(
                dataset,
                generators,
                real_count=options["real_count"],
                per_generator=options["per_generator"],
                seed=options["seed"],
                mixed_modes_acknowledgement=options["mixed_modes_acknowledgement"],
            )
        except BuildError as exc:
            raise CommandError(str(exc), returncode=2) from None
        for line in plan.lines():
            self.stdout.write(line)
        try:
            study = create_study(
                plan, name=options["name"], slug=options["slug"], layout=options["layout"]
            )
        except BuildError as exc:
            raise CommandError(f"No study created. {exc}", returncode=2) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Created study “{study}” (/quiz/{study.slug}/): {len(plan.real)} real, "
                f"{plan.per_generator} per generator, panel size {study.panel_size} px."
            )
        )
        if options["publish"]:
            # The one publish path: the audit_leaks command runs the rules and the leak audit
            # job in this process and publishes only if the study passes (exit 1 if not).
            call_command(
                "audit_leaks", study.slug, publish=True, stdout=self.stdout, stderr=self.stderr
            )
