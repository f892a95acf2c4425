"""`make demo`: sample images → a GAN trained on the CPU → synthetic images → a published study.

Each step is skipped when its result already exists, so running it again only serves the quiz.
Training, generation and the audit run in this process through quiz.jobs, as a worker runs them.
The demo keeps the rules of any study: the GAN trains on the dataset's train part, the real
panels come from its held-out part, and the study is published only if `study_problems` finds
nothing.
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from ganengine import families
from quiz import jobs
from quiz.leak_audit import describe
from quiz.models import (
    Dataset,
    Feedback,
    GenerationJob,
    ImageKind,
    JobStatus,
    LeakAudit,
    Split,
    Study,
    TrainingRun,
)
from quiz.rounds import panel_size_for

DEMO_FAMILY = "unconditional"  # a registered ganengine family; --preset names one of its presets
DATASET_NAME = "Demo: lower-limb muscle"
STUDY_SLUG = "demo"
LOCAL_SAMPLES = settings.BASE_DIR.parent / "shared" / "data" / "muscle-us" / "images"


class Command(BaseCommand):
    help = "Import sample images, train a small GAN on the CPU, generate images, publish a study."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--preset", default="cpu-demo")
        parser.add_argument("--steps", type=int, help="Override the preset's number of steps.")
        parser.add_argument("--images", type=int, default=200, help="Real images to import.")
        parser.add_argument("--synthetic", type=int, default=60, help="Images to generate.")

    def handle(self, *args, preset: str, steps: int | None, images: int, synthetic: int, **_):
        dataset = self._dataset(images)
        dataset.apply_split()
        overrides = {"steps": steps} if steps else {}
        family = families.get(DEMO_FAMILY)
        try:
            config = family.preset(preset, **overrides)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

        # A run from before runs recorded their training set cannot pass the held-out rule.
        runs = dataset.training_runs.filter(status=JobStatus.SUCCEEDED)
        run = runs.filter(trained_images__isnull=False).distinct().order_by("-pk").first()
        if run is None:
            run = TrainingRun.objects.create(
                dataset=dataset,
                name=f"{preset} demo",
                family=family.name,
                config=config.to_dict(),
                total_steps=config.steps,
            )
            self.stdout.write(f"Training {run.name} for {config.steps} steps on the CPU...")
            jobs.run_now(run, report=self.stdout.write)
            if run.status != JobStatus.SUCCEEDED:
                raise CommandError(f"Training ended {run.status}: {run.error}")

        missing = synthetic - run.images.count()
        if missing > 0:
            self.stdout.write(f"Generating {missing} synthetic images...")
            used = sum(run.generation_jobs.values_list("count", flat=True))
            job = GenerationJob.objects.create(training_run=run, count=missing, first_seed=used)
            job = jobs.run_now(job)
            if job.status != JobStatus.SUCCEEDED:
                raise CommandError(f"Generation ended {job.status}: {job.error}")

        study = self._study(dataset, run)
        self.stdout.write(self.style.SUCCESS(f"Study ready: /quiz/{study.slug}/"))

    def _dataset(self, limit: int) -> Dataset:
        dataset = Dataset.objects.filter(name=DATASET_NAME).first()
        if dataset and dataset.images.exists():
            return dataset
        if LOCAL_SAMPLES.is_dir():
            call_command("import_dataset", str(LOCAL_SAMPLES), name=DATASET_NAME, limit=limit)
        else:
            target = settings.VAR_DIR / "sample-images"
            call_command("import_dataset", str(target), name=DATASET_NAME, fetch_sample=True)
        return Dataset.objects.get(name=DATASET_NAME)

    def _study(self, dataset: Dataset, run: TrainingRun) -> Study:
        study, _ = Study.objects.get_or_create(
            slug=STUDY_SLUG,
            defaults={
                "name": "Real or synthetic? Muscle ultrasound",
                # The blog's quiz: the answer key after each round, results for everyone.
                "feedback": Feedback.KEY_EACH_ROUND,
                "results_public": True,
                "description": "Longitudinal B-mode scans of lower-limb muscle. Some are real; "
                "the others were made by a GAN trained on a few hundred real scans.",
            },
        )
        synthetic = list(run.images.all())
        held_out = dataset.images.filter(kind=ImageKind.REAL, split=Split.HELD_OUT)
        real = list(held_out.exclude(trained_by=run).order_by("?")[: len(synthetic)])
        study.images.set(real + synthetic)
        study.panel_size = panel_size_for(real + synthetic)
        study.save()
        self.stdout.write(
            f"Auditing the study ({len(real)} held-out real, {len(synthetic)} synthetic images)..."
        )
        audit = jobs.run_now(LeakAudit.objects.create(study=study, publish_on_pass=True))
        if not audit.passed:
            raise CommandError(
                "\n".join(["The demo study failed its leak audit:", *describe(audit)])
            )
        study.refresh_from_db()
        return study
