"""`make demo`: sample images + a GAN → synthetic images → a published study, in under a minute.

By default the GAN is the shipped demo generator (pretrained/muscle-us-fastgan-128: its model
card says how it was trained and what it reaches); `--train` trains one anew on the CPU from
`--preset` instead (cpu-demo: minutes). `--colour` builds the colour demo instead: a
`generic`-profile dataset of stained-tissue tiles drawn by quiz.ingest.sample_data.stained_tiles
(no download), a small RGB GAN trained on the CPU (tiny, COLOUR_STEPS steps: about 1.5 minutes),
and its own study. Each step is skipped when its result already exists, so
running it again only serves the quiz. Generation and the audit run in this process through
quiz.jobs, as a worker runs them.

The demo keeps the rules of any study: the real panels are images its GAN never trained on, and
the study is published only if its leak audit passes. The shipped generator was trained outside
this site, so its run records its card's train list as trained_pixel_hashes (the held-out rule
checks real panels against it), its trained_images are the imported images in that list, and
only the others become real panels. The site can check its images for near-copies only against
training images it holds; the card reports that check against all of them.
"""

import json
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ganengine import families
from quiz import jobs
from quiz.imaging import channels_of, encode_png, pixel_sha256
from quiz.ingest.pipeline import ingest_into_dataset
from quiz.ingest.sample_data import stained_tiles
from quiz.ingest.sources import iter_folder
from quiz.integrity.leak_audit.report import describe
from quiz.jobs.gan import c2st_observers
from quiz.models import (
    Dataset,
    Feedback,
    GenerationJob,
    Image,
    ImageKind,
    ImageProfile,
    JobStatus,
    LeakAudit,
    Split,
    Study,
    TrainingRun,
)


def generator_summary(card: dict) -> str:
    generator, c2st = card["generator"], card["metrics"]["c2st"]
    return (
        f"{generator['config']['resolution']} px, {generator['step']:,} steps, held-out C2ST "
        f"AUC {c2st['auc']:.2f}"
    )


DEMO_FAMILY = "unconditional"  # a registered ganengine family; --preset names one of its presets
DATASET_NAME = "Demo: lower-limb muscle"
STUDY_SLUG = "demo"
GREY_PRESET = "cpu-demo"
# The colour demo: tiles drawn at TILE_SIDE px, a DCGAN at the tiny preset's 32 px.
COLOUR_DATASET_NAME = "Demo: stained-tissue colour tiles"
COLOUR_STUDY_SLUG = "demo-colour"
COLOUR_PRESET = "tiny"
COLOUR_STEPS = 600
TILE_SIDE = 64


@dataclass(frozen=True)
class StudyText:
    slug: str
    name: str
    description: str


GREY_STUDY = StudyText(
    STUDY_SLUG,
    "Real or synthetic? Muscle ultrasound",
    "Longitudinal B-mode scans of lower-limb muscle. Some are real; the others were made by a "
    "GAN trained on a few hundred real scans.",
)
COLOUR_STUDY = StudyText(
    COLOUR_STUDY_SLUG,
    "Real or synthetic? Stained-tissue tiles (colour)",
    "Colour tiles that look like stained tissue. The real ones were drawn by a program; the "
    "others were made by a small GAN trained for a minute or two on some of them.",
)
LOCAL_SAMPLES = settings.BASE_DIR.parent / "shared" / "data" / "muscle-us" / "images"
SHIPPED = settings.BASE_DIR / "pretrained" / "muscle-us-fastgan-128"
SHIPPED_RUN_NAME = "muscle-us FastGAN 128 px (shipped demo generator)"


class Command(BaseCommand):
    help = "Import sample images, take the shipped GAN (or train one), generate, publish a study."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--train",
            action="store_true",
            help="Train a GAN anew on the CPU (--preset, --steps) instead of the shipped one.",
        )
        parser.add_argument(
            "--colour",
            action="store_true",
            help="The colour demo: generated stained-tissue tiles, a small RGB GAN trained on "
            f"the CPU ({COLOUR_PRESET}, {COLOUR_STEPS} steps unless --preset/--steps), its study.",
        )
        parser.add_argument(
            "--preset", help=f"With --train (default {GREY_PRESET}) or --colour ({COLOUR_PRESET})."
        )
        parser.add_argument("--steps", type=int, help="With --train: the preset's steps.")
        parser.add_argument("--images", type=int, default=200, help="Real images to import.")
        parser.add_argument("--synthetic", type=int, default=60, help="Images to generate.")

    def handle(
        self,
        *args,
        train: bool,
        colour: bool,
        preset: str | None,
        steps: int | None,
        images: int,
        synthetic: int,
        **_,
    ):
        text = GREY_STUDY
        if colour:
            dataset = self._colour_dataset(images)
            dataset.apply_split()
            if preset is None:
                preset, steps = COLOUR_PRESET, steps or COLOUR_STEPS
            import torch

            # Its tiny nets train faster on one thread (two spend their time synchronising):
            # `python -m ganengine train --preset tiny` on these tiles, on a busy 2-core machine,
            # ran 150 steps in 23 s on one thread and 520 in 9.7 minutes on two.
            torch.set_num_threads(1)
            run = self._trained_run(dataset, preset, steps)
            text = COLOUR_STUDY
        elif train:
            dataset = self._dataset(images)
            dataset.apply_split()
            run = self._trained_run(dataset, preset or GREY_PRESET, steps)
        else:
            card = self._card()
            # As many held-out images as real panels: each more only lengthens the import.
            dataset = self._dataset(min(images, synthetic), card)
            run = self._shipped_run(dataset, card)
        self._generate(run, synthetic)
        study = self._study(dataset, run, text)
        self.stdout.write(self.style.SUCCESS(f"Study ready: /quiz/{study.slug}/"))

    def _trained_run(self, dataset: Dataset, preset: str, steps: int | None) -> TrainingRun:
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
        return run

    def _card(self) -> dict:
        try:
            return json.loads((SHIPPED / "card.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(
                f"The shipped demo generator's card {SHIPPED / 'card.json'} cannot be read "
                f"({exc}); run `manage.py build_demo --train` to train one instead"
            ) from exc

    def _shipped_run(self, dataset: Dataset, card: dict) -> TrainingRun:
        run = dataset.training_runs.filter(
            name=SHIPPED_RUN_NAME, status=JobStatus.SUCCEEDED
        ).first()
        if run is None:
            generator = card["generator"]
            metrics = card["metrics"]
            run = TrainingRun.objects.create(
                dataset=dataset,
                name=SHIPPED_RUN_NAME,
                family="unconditional",
                config=generator["config"],
                step=generator["step"],
                total_steps=generator["step"],
                status=JobStatus.SUCCEEDED,
                started_at=timezone.now(),
                finished_at=timezone.now(),
                # The card's machine observer, measured on the same held-out images.
                evaluation={
                    "kid": metrics["kid"]["kid"],
                    "kid_std": metrics["kid"]["kid_std"],
                    "c2st_auc": metrics["c2st"]["auc"],
                    "c2st_auc_std": metrics["c2st"]["auc_std"],
                    "c2st_auc_ci": metrics["c2st"]["auc_ci"],
                    "c2st_observer": metrics["c2st"].get("observer"),
                    "c2st_observers": c2st_observers(metrics["c2st"]),
                    "n_generated": metrics["c2st"]["n_fake"],
                    "n_real": metrics["c2st"]["n_real"],
                    "real": "held-out images (the shipped generator's model card)",
                    "checkpoint_step": generator["step"],
                },
            )
            with (SHIPPED / generator["file"]).open("rb") as handle:
                run.checkpoint = default_storage.save(
                    f"runs/{run.pk}/{generator['file']}", File(handle)
                )
            run.save(update_fields=["checkpoint"])
        # Canonical pixels and source frames: an image cropped otherwise than when the
        # generator was trained is still recognised by its source frame.
        trained = {
            digest
            for entry in card["data"]["split"]["train"]
            for digest in (entry["sha256"], entry.get("source_sha256"))
            if digest
        }
        real = dataset.images.filter(kind=ImageKind.REAL)
        run.trained_pixel_hashes = sorted(trained)
        run.save(update_fields=["trained_pixel_hashes"])
        images = list(real)
        seen = {image.pk for image in images if {image.sha256, image.source_sha256} & trained}
        run.trained_images.set(seen)
        # The images it trained on are the dataset's train part, the others its held-out part;
        # an image staff excluded, or flagged and not accepted, is in neither (as apply_split).
        for image in images:
            part = Split.TRAIN if image.pk in seen else Split.HELD_OUT
            image.split = part if image.is_usable else ""
        Image.objects.bulk_update(images, ["split"])
        self.stdout.write(
            f"Serving the shipped generator ({generator_summary(card)}); "
            f"{run.trained_images.count()} of the {real.count()} imported images are in its "
            "training set (such images are never shown as real panels)."
        )
        return run

    def _generate(self, run: TrainingRun, synthetic: int) -> None:
        missing = synthetic - run.images.count()
        if missing > 0:
            self.stdout.write(f"Generating {missing} synthetic images...")
            used = sum(run.generation_jobs.values_list("count", flat=True))
            job = GenerationJob.objects.create(training_run=run, count=missing, first_seed=used)
            job = jobs.run_now(job)
            if job.status != JobStatus.SUCCEEDED:
                raise CommandError(f"Generation ended {job.status}: {job.error}")

    def _dataset(self, limit: int, card: dict | None = None) -> Dataset:
        dataset = Dataset.objects.filter(name=DATASET_NAME).first()
        if dataset and dataset.images.exists():
            return dataset
        if LOCAL_SAMPLES.is_dir() and card is not None:
            # Only the generator's held-out images (the others could never be real panels), and
            # of those not the near-duplicates of one it trained on (the card marks them).
            held_out = {
                entry["file"]
                for entry in card["data"]["split"]["held_out"]
                if not entry.get("near_duplicate_of")
            }
            files = (item for item in iter_folder(LOCAL_SAMPLES) if item[0] in held_out)
            dataset, _ = Dataset.objects.get_or_create(name=DATASET_NAME)
            self.stdout.write(f"Importing up to {limit} of its held-out images...")
            self.stdout.write(str(ingest_into_dataset(dataset, files, limit=limit)))
        elif LOCAL_SAMPLES.is_dir():
            call_command("import_dataset", str(LOCAL_SAMPLES), name=DATASET_NAME, limit=limit)
        else:
            target = settings.VAR_DIR / "sample-images"
            call_command("import_dataset", str(target), name=DATASET_NAME, fetch_sample=True)
        return Dataset.objects.get(name=DATASET_NAME)

    def _colour_dataset(self, count: int) -> Dataset:
        """A generic-profile dataset of `count` stained_tiles (made once; kept after that)."""
        dataset, _ = Dataset.objects.get_or_create(
            name=COLOUR_DATASET_NAME, defaults={"profile": ImageProfile.GENERIC}
        )
        if not dataset.images.exists():
            self.stdout.write(f"Drawing {count} stained-tissue tiles ({TILE_SIDE} px, RGB)...")
            for index, pixels in enumerate(stained_tiles(count, TILE_SIDE, seed=0)):
                Image.objects.create(
                    kind=ImageKind.REAL,
                    dataset=dataset,
                    source_name=f"stained_tiles(seed=0) #{index}",
                    width=TILE_SIDE,
                    height=TILE_SIDE,
                    channels=channels_of(pixels),
                    sha256=pixel_sha256(pixels),
                    file=ContentFile(encode_png(pixels), name="tile.png"),
                )
        return dataset

    def _study(self, dataset: Dataset, run: TrainingRun, text: StudyText) -> Study:
        study, _ = Study.objects.get_or_create(
            slug=text.slug,
            defaults={
                "name": text.name,
                # The blog's quiz: the answer key after each round, results for everyone. Keys
                # make every truth public after one session, which a demonstration may accept.
                "feedback": Feedback.KEY_EACH_ROUND,
                "oracle_risk_acknowledgement": "A demonstration of the blog's quiz, not a study "
                "whose figures are cited: its answer key after each round teaches, and makes "
                "the truth of every image it shows public.",
                "results_public": True,
                "description": text.description,
            },
        )
        synthetic = list(run.images.all())
        held_out = dataset.images.filter(kind=ImageKind.REAL, split=Split.HELD_OUT)
        real = list(held_out.exclude(trained_by=run).order_by("?")[: len(synthetic)])
        study.images.set(real + synthetic)  # the panel size follows (studies.panels)
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
