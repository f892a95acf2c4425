"""The study that benchmarks/load_quiz.py loads: built in a fresh database, its guesses checked.

load_quiz runs this file by path with cwd and PYTHONPATH set to the tree under test (this tree,
or the --baseline revision's), so that quiz and webapp are that tree's while this code is this
tree's. So it imports nothing from benchmarks/; each command prints one line of JSON:

    python benchmarks/load_study.py --build IMAGES PANEL_SIZE ROUNDS   # {"slug"}
    python benchmarks/load_study.py --verify ACKNOWLEDGED_JSON          # the guesses found
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

PANELS_PER_ROUND = 10


def _django() -> None:
    # Run with the tree under test first on PYTHONPATH (load_servers.tree_env).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.load_settings")
    import django

    django.setup()


def build_study(images: int, size: int, rounds: int) -> dict[str, str]:
    """Migrate the fresh database and publish a study like tests/conftest.py's make_study."""
    _django()
    import numpy as np
    from django.core.files.base import ContentFile
    from django.core.management import call_command

    from quiz.imaging import encode_png, pixel_sha256
    from quiz.models import Dataset, Feedback, Image, ImageKind, Split, Study, TrainingRun

    try:
        from quiz.studies.panels import render_study_panels
    except ModuleNotFoundError:  # a --baseline revision from before quiz/ had its rooms
        from quiz.panels import render_study_panels

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    rng = np.random.default_rng(0)
    dataset = Dataset.objects.create(name="load benchmark")
    run = TrainingRun.objects.create(dataset=dataset, name="load benchmark run", step=100)

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
        name="Load benchmark",
        slug="load",
        panel_size=size,
        panels_per_round=PANELS_PER_ROUND,
        rounds_per_session=rounds,
        feedback=Feedback.SCORE_ONLY,
    )
    study.images.set(shown)
    render_study_panels(study)
    study.is_published = True
    study.save()
    return {"slug": study.slug}


def verify_guesses(path: Path) -> dict[str, int]:
    """Every acknowledged guess (panel token → answer) looked up in the database."""
    _django()
    from quiz.models import Guess

    acknowledged: dict[str, str] = json.loads(path.read_text())
    tokens = list(acknowledged)
    stored: dict[str, str] = {}
    for start in range(0, len(tokens), 500):
        chunk = tokens[start : start + 500]
        stored.update(
            Guess.objects.filter(panel__token__in=chunk).values_list("panel__token", "answer")
        )
    return {
        "acknowledged": len(acknowledged),
        "found": len(stored),
        "missing": len(acknowledged) - len(stored),
        "different_answer": sum(stored[t] != a for t, a in acknowledged.items() if t in stored),
        "guesses_in_database": Guess.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    command = parser.add_mutually_exclusive_group(required=True)
    command.add_argument("--build", nargs=3, type=int, metavar=("IMAGES", "SIZE", "ROUNDS"))
    command.add_argument("--verify", type=Path, metavar="ACKNOWLEDGED_JSON")
    args = parser.parse_args()
    if args.build:
        print(json.dumps(build_study(*args.build)))
    else:
        print(json.dumps(verify_guesses(args.verify)))


if __name__ == "__main__":
    main()
