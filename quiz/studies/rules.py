"""The rules a study must meet before it is published; each problem names what breaks it.

Besides enough images for its sessions, and real images that staff have not excluded or left
flagged (`review_problems`), a study keeps two rules about the generators behind its synthetic
images ("the study's runs"):

- Held out: no real image may be one that a study's run trained on (TrainingRun.trained_images,
  compared by pixels, so a copy uploaded to another dataset counts too). A participant may have
  seen the generator's training set, and a generator reproduces it best, so such a real panel
  would measure memory, not realism.
- Memorisation guard: no synthetic image may be a near-copy of one of its run's training images
  (ganengine.metrics.memorisation), or "real" answers for it would be right for the wrong reason.

The guard decodes and compares images with torch, so `study_problems` belongs in a worker (the
publish audit task), not in a web request; `held_out_problems` alone is cheap.
"""

from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import numpy as np
from django.db.models import CharField, Value

from quiz.imaging import square_stack
from quiz.models import PANEL_LETTERS, Image, ImageKind, Review, Split, Study, TrainingRun
from quiz.studies.design import DesignError, session_length
from quiz.studies.panels import study_image_ids

# Both sides of the memorisation check are centre-cropped and resized to this square, as the
# training data was (ganengine.data); the check then compares them at 32 px.
NEAR_COPY_COMPARE_SIZE = 64


def study_problems(study: Study, near_copies: list[dict[str, Any]] | None = None) -> list[str]:
    """Every reason the study cannot be published yet; empty when it can.

    `near_copies` are the study's `near_copy_pairs`, when the caller has them already (the audit
    stores them in its report); otherwise they are computed here.
    """
    problems: list[str] = []
    if study.panels_per_round > len(PANEL_LETTERS):
        problems.append(f"At most {len(PANEL_LETTERS)} panels per round.")
    pools = test_pools(study)
    try:
        session_length(
            study.panels_per_round,
            len(pools[ImageKind.REAL]),
            len(pools[ImageKind.SYNTHETIC]),
            study.catch_images.count(),
            study.rounds_per_session,
        )
    except DesignError as exc:
        problems.append(f"Not enough images: {exc}.")
    problems += held_out_problems(study)
    problems += review_problems(study)
    problems += _too_few_training_images(study)
    if near_copies is None:
        near_copies = near_copy_pairs(study)
    problems += [
        f"Synthetic image #{pair['synthetic_id']} is a near-copy of training image "
        f"#{pair['training_id']} (ratio {pair['ratio']:.2f}, relative distance "
        f"{_figure(pair['relative_distance'])}): remove it from the study."
        for pair in near_copies
    ]
    return problems


@dataclass(frozen=True)
class StudyImages:
    """A study's image ids by role, each list in id order."""

    pools: dict[str, list[int]]  # trials by kind: the study's images less practice and catch
    practice: list[int]
    catch: list[int]
    # The generator of each synthetic image of the pools: sessions balance the generators.
    generator_of: dict[int, int | None] = field(default_factory=dict)


def study_images(study: Study) -> StudyImages:
    """The study's images by role, read in one query (its three image lists, UNION ALL)."""

    def listed(relation: str, role: str):
        through = getattr(Study, relation).through
        return (
            through.objects.filter(study_id=study.pk)
            .annotate(role=Value(role, output_field=CharField()))
            .values_list("image_id", "image__kind", "image__generator_id", "role")
        )

    rows = listed("images", "trial").union(
        listed("practice_images", "practice"), listed("catch_images", "catch"), all=True
    )
    by_role: dict[str, list[tuple[int, str, int | None]]] = {
        "trial": [],
        "practice": [],
        "catch": [],
    }
    for image_id, kind, generator_id, role in rows:
        by_role[role].append((image_id, kind, generator_id))
    reserved = {pk for role in ("practice", "catch") for pk, _, _ in by_role[role]}
    pools: dict[str, list[int]] = {ImageKind.REAL: [], ImageKind.SYNTHETIC: []}
    generator_of: dict[int, int | None] = {}
    for pk, kind, generator_id in sorted(by_role["trial"]):
        if pk not in reserved:
            pools[kind].append(pk)
            if kind == ImageKind.SYNTHETIC:
                generator_of[pk] = generator_id
    return StudyImages(
        pools=pools,
        practice=sorted(pk for pk, _, _ in by_role["practice"]),
        catch=sorted(pk for pk, _, _ in by_role["catch"]),
        generator_of=generator_of,
    )


def test_pools(study: Study) -> dict[str, list[int]]:
    """The image ids trials are drawn from, by kind: the study's images less practice and catch."""
    return study_images(study).pools


def held_out_problems(study: Study) -> list[str]:
    """Real images (trials or practice) that one of the study's runs trained on.

    A run's record is its trained_images, plus trained_pixel_hashes for a generator trained
    outside the site; both are matched by canonical pixels and by source frame, so the same scan
    cropped another way is caught too. A run without a record (one trained before runs kept it)
    is a problem too: nothing then shows that the study's real images are held out from its
    generator, and those runs trained on every image of their dataset.
    """
    real = list(_shown(study).filter(kind=ImageKind.REAL).order_by("pk"))
    problems = []
    for run in _study_runs(study):
        trained = dict(run.trained_images.values_list("sha256", "pk"))
        # The same scan cropped differently (another upload, or a crop staff adjusted).
        trained_scans = dict(
            run.trained_images.exclude(source_sha256="").values_list("source_sha256", "pk")
        )
        elsewhere = set(run.trained_pixel_hashes) - set(trained)
        if not trained and not elsewhere:
            problems.append(
                f"Run “{run}” has no record of the images it trained on (it was trained before "
                "runs kept one), so its images cannot be checked against this study's real "
                "images: retrain it, or remove its images from the study."
            )
            continue
        for image in real:
            same_pixels = trained.get(image.sha256)
            training_id = same_pixels or trained_scans.get(image.source_sha256)
            recorded = {image.sha256, image.source_sha256} & elsewhere
            if training_id is None and not recorded:
                continue
            if training_id is None:
                where = "has the pixels of an image in the recorded training set"
            elif training_id == image.pk:
                where = "was in the training set"
            elif same_pixels:
                where = f"has the pixels of training image #{training_id}"
            else:
                where = f"is the scan of training image #{training_id}, cropped another way,"
            problems.append(
                f"Real image #{image.pk} ({image.source_name or 'no file name'}) {where} of run "
                f"“{run}”, whose images are in this study: use held-out images as real panels."
            )
    return problems


def review_problems(study: Study) -> list[str]:
    """Real images staff excluded, or flagged as not plain B-mode and not accepted.

    A Doppler overlay or a screenshot among the real panels would be a class cue that no
    generator trained on B-mode reproduces.
    """
    problems = []
    for image in _shown(study).filter(kind=ImageKind.REAL).order_by("pk"):
        if image.is_usable:
            continue
        if image.review == Review.EXCLUDED:
            why = "was excluded by staff"
        else:
            why = "is flagged (" + "; ".join(flag["reason"] for flag in image.flags) + ")"
        problems.append(
            f"Real image #{image.pk} ({image.source_name or 'no file name'}) {why}: accept it "
            "on its dataset's crop review, or remove it from the study."
        )
    return problems


def study_warnings(study: Study) -> list[str]:
    """What does not stop publishing but staff should know.

    A real image in its dataset's train part is allowed as long as none of the study's runs
    trained on it (that is the rule, checked against each run's record), but a run trained later
    on the train part will see it, and that run's images then cannot join this study.
    """
    in_train = list(
        _shown(study)
        .filter(kind=ImageKind.REAL, split=Split.TRAIN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not in_train:
        return []
    named = ", ".join(f"#{pk}" for pk in in_train[:10]) + (" ..." if len(in_train) > 10 else "")
    return [
        f"{len(in_train)} real image(s) of this study ({named}) are in their dataset's train "
        "part: runs trained on it later will see them, and those runs' images then cannot join "
        "this study. Held-out images avoid that."
    ]


def near_copy_pairs(study: Study) -> list[dict[str, Any]]:
    """Each synthetic image of the study that is a near-copy of one of its run's training images.

    One dict per flagged image, closest first: `synthetic_id`, `training_id`, `distance` (RMS
    pixel difference in [0, 1]), `ratio` (to the second-nearest training image) and
    `relative_distance` (to the training set's typical spacing; None when that spacing is 0).
    Runs without at least two recorded training images are skipped: `study_problems` names them.
    """
    from ganengine.metrics.memorisation import nearest_training_images  # torch: workers only

    synthetic = (
        _shown(study)
        .filter(kind=ImageKind.SYNTHETIC)
        .order_by("training_run_id", "pk")
        .select_related("training_run")
    )
    pairs = []
    for run, group in groupby(synthetic, key=lambda image: image.training_run):
        images = list(group)
        training = list(run.trained_images.order_by("pk"))
        if len(training) < 2:
            continue
        matches = nearest_training_images(
            square_stack((i.panel_pixels() for i in images), NEAR_COPY_COMPARE_SIZE),
            square_stack((i.panel_pixels() for i in training), NEAR_COPY_COMPARE_SIZE),
        )
        pairs += [
            {
                "synthetic_id": image.pk,
                "training_id": training[match.nearest_index].pk,
                "distance": match.distance,
                "ratio": match.ratio,
                "relative_distance": _finite(match.relative_distance),
            }
            for image, match in zip(images, matches, strict=True)
            if match.is_near_copy()
        ]
    return sorted(pairs, key=lambda pair: (pair["distance"], pair["synthetic_id"]))


def _too_few_training_images(study: Study) -> list[str]:
    # The memorisation score compares an image's two nearest training images; a generator
    # trained on a single image reproduces it by construction anyway.
    return [
        f"Run “{run}” trained on a single image, so its images cannot be checked for "
        "near-copies: remove them from the study."
        for run in _study_runs(study)
        if run.trained_images.count() == 1
    ]


def _shown(study: Study):
    return Image.objects.filter(pk__in=study_image_ids(study))


def _study_runs(study: Study) -> list[TrainingRun]:
    """The runs that made the study's synthetic images (trials, practice or catch)."""
    run_ids = _shown(study).filter(kind=ImageKind.SYNTHETIC).values("training_run_id")
    return list(TrainingRun.objects.filter(pk__in=run_ids).order_by("pk"))


def _finite(value: float) -> float | None:
    # The pairs are stored in a JSON report, which has no infinity.
    return value if np.isfinite(value) else None


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
