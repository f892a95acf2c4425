"""Publish a throwaway study of noise images for benchmarks/quiz_attack.py to attack.

Run it with the site's own settings (DATABASE_URL, MEDIA_ROOT) from the checkout whose site will
serve the study, so that an earlier revision can be attacked the same way (a `git worktree` of it
with this file copied in). The study is published directly, without the leak audit: the attack
measures what a feedback policy leaks, including a policy that publishing now refuses.

    DATABASE_URL=sqlite:////tmp/attack/db.sqlite3 MEDIA_ROOT=/tmp/attack/media \\
        python benchmarks/attack_study.py --slug attack --feedback score --images 20 --rounds 4
"""

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def build(slug: str, feedback: str, images: int, rounds: int, size: int) -> None:
    import numpy as np
    from django.core.files.base import ContentFile
    from django.core.management import call_command

    from quiz.imaging import encode_png, pixel_sha256
    from quiz.models import Dataset, Image, ImageKind, Split, Study, TrainingRun
    from quiz.studies.panels import render_study_panels

    call_command("migrate", verbosity=0, interactive=False)
    rng = np.random.default_rng(0)
    dataset = Dataset.objects.create(name=f"attack {slug}")
    run = TrainingRun.objects.create(dataset=dataset, name=f"attack {slug} run", step=100)

    def image(kind: str, split: str = "", seed: int | None = None) -> Image:
        pixels = rng.integers(0, 256, size=(size, size), dtype=np.uint8)
        synthetic = kind == ImageKind.SYNTHETIC
        return Image.objects.create(
            kind=kind,
            dataset=None if synthetic else dataset,
            split=split,
            training_run=run if synthetic else None,
            checkpoint_step=100 if synthetic else None,
            seed=seed,
            width=size,
            height=size,
            sha256=pixel_sha256(pixels),
            file=ContentFile(encode_png(pixels), name="image.png"),
        )

    shown = [image(ImageKind.REAL, Split.HELD_OUT) for _ in range(images)]
    shown += [image(ImageKind.SYNTHETIC, seed=index) for index in range(images)]
    run.trained_images.set(image(ImageKind.REAL, Split.TRAIN) for _ in range(4))
    study = Study.objects.create(
        name=f"Attack {slug}",
        slug=slug,
        panel_size=size,
        panels_per_round=10,
        rounds_per_session=rounds,
        feedback=feedback,
    )
    study.images.set(shown)
    render_study_panels(study)
    study.is_published = True
    study.save()
    print(f"published /quiz/{slug}/: {images} real + {images} synthetic, feedback {feedback}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slug", default="attack")
    parser.add_argument("--feedback", required=True, help="The policy's value, e.g. score.")
    parser.add_argument("--images", type=int, default=20, help="Real images, and as many fakes.")
    parser.add_argument("--rounds", type=int, default=4, help="Rounds of 10 per session.")
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    build(args.slug, args.feedback, args.images, args.rounds, args.size)


if __name__ == "__main__":
    main()
