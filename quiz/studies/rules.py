"""The rules a study must meet before it is published; each problem names what breaks it.

Besides enough images for its sessions, and real images that staff have not excluded or left
flagged (`review_problems`), a study keeps two rules about the generators behind its synthetic
images ("the study's generators"), each checked against the generator's record of the real images
it trained on: a run's record for a run trained here (TrainingRun.trained_images, and
trained_pixel_hashes for the demo generator), the training manifest for a generator trained
elsewhere (Generator.manifest_hashes, quiz.ingest.manifest):

- Held out: no real image may be one that a study's generator trained on (compared by pixels, so
  a copy uploaded to another dataset counts too). A participant may have seen the generator's
  training set, and a generator reproduces it best, so such a real panel would measure memory,
  not realism.
- Memorisation guard: no synthetic image may be a near-copy of one of its generator's training
  images held here (ganengine.metrics.memorisation), or "real" answers for it would be right for
  the wrong reason.

A study's panels have one mode (quiz.studies.panels), but a study that mixes grey and colour
images shows grey images as colourless RGB panels: a rendering cue, like mixed sizes, and one that
alone tells the classes apart where one is grey and the other in colour. Publishing refuses it
unless staff acknowledge the mix in writing (`mode_problems`); the acknowledgement is then a
warning, and the report's methods print it.

A generator brought without a manifest has no record: publishing is allowed, but the held-out
status of the real panels is unknown for it, and the publish warnings (`study_warnings`) and the
study's report (`held_out_status`) say so.

The guard decodes and compares images with torch, so `study_problems` belongs in a worker (the
publish audit task), not in a web request; `held_out_problems` alone is cheap.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import groupby
from typing import Any

import numpy as np
from django.db.models import CharField, Q, QuerySet, Value

from quiz.imaging import square_stack
from quiz.models import (
    PANEL_LETTERS,
    Generator,
    Image,
    ImageKind,
    Layout,
    Review,
    Split,
    Study,
)
from quiz.studies.design import DesignError, session_length
from quiz.studies.panels import study_image_ids, study_modes

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
    problems += protocol_problems(study)
    pools = test_pools(study)
    try:
        session_length(
            study.panels_per_round,
            len(pools[ImageKind.REAL]),
            len(pools[ImageKind.SYNTHETIC]),
            study.catch_images.count(),
            study.rounds_per_session,
            paired=study.layout == Layout.PAIR,
        )
    except DesignError as exc:
        problems.append(f"Not enough images: {exc}.")
    problems += held_out_problems(study)
    problems += review_problems(study)
    problems += mode_problems(study)[0]
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


def mode_problems(study: Study) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a study that mixes grey and colour images, by the counts per class.

    Unacknowledged, the mix is a problem; acknowledged in `mixed_modes_acknowledgement`, a
    warning that quotes the statement.
    """
    finding = study_modes(study).mix_finding()
    if finding is None:
        return [], []
    acknowledgement = study.mixed_modes_acknowledgement.strip()
    if acknowledgement:
        return [], [f"{finding} Published under this acknowledgement: {acknowledgement}"]
    return [
        f"{finding} Use images of one mode (all grey or all in colour), or state in “mixed "
        "modes acknowledgement” why the mix is acceptable for this study."
    ], []


def protocol_problems(study: Study) -> list[str]:
    """The side-by-side layout shows pairs, answered by a choice (no rating scale); adaptive
    exposure adapts trial by trial."""
    problems = []
    layout = Layout(study.layout)
    if layout == Layout.PAIR and study.panels_per_round % 2:
        problems.append(
            "The side-by-side layout shows pairs: panels per round must be even, not "
            f"{study.panels_per_round}."
        )
    if study.adaptive_exposure and study.panels_per_round != layout.panels_per_trial:
        problems.append(
            "Adaptive exposure (HYPE-time) sets each trial's exposure from the answers before "
            f"it, so a round holds one trial: {layout.panels_per_trial} panel(s) per round in "
            f"this layout, not {study.panels_per_round}."
        )
    if layout == Layout.PAIR and study.rating_points:
        # A pair is answered by a choice between its two images, which a one-image confidence
        # scale cannot express; a 2AFC analysis has no ROC to draw from it either.
        problems.append(
            "Confidence ratings are not offered side by side: each pair is answered by choosing "
            "its real image, not by rating each image. Leave the rating scale "
            f"({study.rating_points}-point) blank, or choose the grid or one-at-a-time layout."
        )
    if layout == Layout.PAIR and study.practice_images.exists():
        kinds = set(study.practice_images.values_list("kind", flat=True))
        if kinds != {ImageKind.REAL, ImageKind.SYNTHETIC}:
            problems.append(
                "Side-by-side practice shows pairs of one real and one synthetic image: the "
                "practice images need both kinds."
            )
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


@dataclass(frozen=True)
class TrainingRecord:
    """What a generator is known to have trained on: real images held here, and pixel hashes.

    Publishing (held_out_problems), the study builder and the admin's pickers all ask this one
    record, so they cannot disagree about which real images a generator has seen.
    """

    label: str  # how problems name the generator: “run X” or “generator X”
    images: QuerySet  # the real Images it trained on that this site holds
    hashes: frozenset[str]  # canonical or source-frame pixel hashes beyond `images`
    is_run: bool

    @cached_property
    def _held(self) -> tuple[dict[str, int], dict[str, int]]:
        # The same scan cropped differently (another upload, or a crop staff adjusted) shares
        # its source frame's hash with the training image.
        rows = list(self.images.values_list("pk", "sha256", "source_sha256"))
        return {pixels: pk for pk, pixels, _ in rows}, {src: pk for pk, _, src in rows if src}

    @property
    def is_empty(self) -> bool:
        """A run trained before runs kept a record: nothing shows what it trained on."""
        return self.is_run and not self._held[0] and not self.hashes

    def where(self, image: Image) -> str | None:
        """How the record names a real image (completing "Real image #n ... of <label>")."""
        same_pixels, same_scan = self._held
        training_id = same_pixels.get(image.sha256) or same_scan.get(image.source_sha256)
        if training_id is None:
            if {image.sha256, image.source_sha256} & (self.hashes - set(same_pixels)):
                return "has the pixels of an image in the recorded training set"
            return None
        if training_id == image.pk:
            return "was in the training set"
        if image.sha256 in same_pixels:
            return f"has the pixels of training image #{training_id}"
        return f"is the scan of training image #{training_id}, cropped another way,"

    def names(self) -> Q:
        """A filter for the real images the record names (for pickers and the builder)."""
        same_pixels, same_scan = self._held
        hashes = set(self.hashes) | set(same_pixels) | set(same_scan)
        return Q(kind=ImageKind.REAL) & (
            Q(pk__in=same_pixels.values()) | Q(sha256__in=hashes) | Q(source_sha256__in=hashes)
        )


def training_record(generator: Generator) -> TrainingRecord | None:
    """The generator's record of its training images; None when it came without a manifest."""
    run = generator.training_run
    if run is not None:
        return TrainingRecord(
            f"run “{run}”", run.trained_images.all(), frozenset(run.trained_pixel_hashes), True
        )
    if generator.manifest_hashes is None:
        return None
    hashes = frozenset(generator.manifest_hashes)
    images = Image.objects.filter(kind=ImageKind.REAL).filter(
        Q(sha256__in=hashes) | Q(source_sha256__in=hashes)
    )
    return TrainingRecord(f"generator “{generator}”", images, hashes, False)


def trained_on(generators: Iterable[Generator]) -> Q:
    """A filter for the real images any of these generators is known to have trained on."""
    query = Q(pk__in=[])
    for generator in generators:
        record = training_record(generator)
        if record is not None:
            query |= record.names()
    return query


def held_out_problems(study: Study) -> list[str]:
    """Real images (trials or practice) that one of the study's generators trained on.

    A record (training_record) is matched by canonical pixels and by source frame, so the same
    scan cropped another way is caught too. A run without a record (one trained before runs kept
    it) is a problem: nothing then shows that the study's real images are held out from its
    generator, and those runs trained on every image of their dataset. A generator brought
    without a manifest is not: its status is unknown, and `study_warnings` says so.
    """
    real = list(_shown(study).filter(kind=ImageKind.REAL).order_by("pk"))
    problems = []
    for generator in _study_generators(study):
        record = training_record(generator)
        if record is None:
            continue
        if record.is_empty:
            problems.append(
                f"Run “{generator.training_run}” has no record of the images it trained on (it "
                "was trained before runs kept one), so its images cannot be checked against this "
                "study's real images: retrain it, or remove its images from the study."
            )
            continue
        for image in real:
            where = record.where(image)
            if where is not None:
                problems.append(
                    f"Real image #{image.pk} ({image.source_name or 'no file name'}) {where} of "
                    f"{record.label}, whose images are in this study: use held-out images as "
                    "real panels."
                )
    return problems


def held_out_status(study: Study) -> list[dict[str, Any]]:
    """Per generator of the study, whether its real panels are known to be held out from it.

    `held_out` is "checked" (against a run's record or a training manifest; publishing refuses
    a real panel the record names) or "unknown" (a generator brought without a manifest).
    """
    status = []
    for generator in _study_generators(study):
        if generator.training_run_id is not None:
            held_out, record = "checked", "training run"
        elif generator.manifest_hashes is not None:
            held_out, record = "checked", "training manifest"
        else:
            held_out, record = "unknown", None
        status.append({"generator": generator.name, "held_out": held_out, "record": record})
    return status


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

    A generator without a training manifest: the held-out status of the real panels is unknown
    for it. A real image in its dataset's train part is allowed as long as none of the study's runs
    trained on it (that is the rule, checked against each run's record), but a run trained later
    on the train part will see it, and that run's images then cannot join this study.
    """
    warnings = mode_problems(study)[1]
    warnings += [
        f"Generator “{generator}” came without a training manifest, so whether this study's real "
        "images were among those it trained on is unknown; the study's report says so. Upload "
        "its manifest on the generator's page to check them."
        for generator in _study_generators(study)
        if training_record(generator) is None
    ]
    in_train = list(
        _shown(study)
        .filter(kind=ImageKind.REAL, split=Split.TRAIN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not in_train:
        return warnings
    named = ", ".join(f"#{pk}" for pk in in_train[:10]) + (" ..." if len(in_train) > 10 else "")
    return [
        *warnings,
        f"{len(in_train)} real image(s) of this study ({named}) are in their dataset's train "
        "part: runs trained on it later will see them, and those runs' images then cannot join "
        "this study. Held-out images avoid that.",
    ]


def near_copy_pairs(study: Study) -> list[dict[str, Any]]:
    """Each synthetic image of the study that is a near-copy of one of its generator's training
    images held here (a run's trained images, or the real images its manifest names).

    One dict per flagged image, closest first: `synthetic_id`, `training_id`, `distance` (RMS
    pixel difference in [0, 1]), `ratio` (to the second-nearest training image) and
    `relative_distance` (to the training set's typical spacing; None when that spacing is 0).
    Generators without at least two recorded training images held here are skipped:
    `study_problems` names such runs, and a generator without a manifest has no record.
    """
    from ganengine.metrics.memorisation import nearest_training_images  # torch: workers only

    synthetic = (
        _shown(study)
        .filter(kind=ImageKind.SYNTHETIC)
        .order_by("generator_id", "pk")
        .select_related("generator__training_run")
    )
    pairs = []
    for generator, group in groupby(synthetic, key=lambda image: image.generator):
        images = list(group)
        record = training_record(generator)
        training = list(record.images.order_by("pk")) if record is not None else []
        if len(training) < 2:
            continue
        # One stack, so that both sides have one mode: grey joins colour as equal channels.
        both = square_stack(
            (i.panel_pixels() for i in [*images, *training]), NEAR_COPY_COMPARE_SIZE
        )
        matches = nearest_training_images(both[: len(images)], both[len(images) :])
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
        f"Run “{generator.training_run}” trained on a single image, so its images cannot be "
        "checked for near-copies: remove them from the study."
        for generator in _study_generators(study)
        if generator.training_run is not None and generator.training_run.trained_images.count() == 1
    ]


def _shown(study: Study):
    return Image.objects.filter(pk__in=study_image_ids(study))


def _study_generators(study: Study) -> list[Generator]:
    """The generators of the study's synthetic images (trials, practice or catch)."""
    ids = _shown(study).filter(kind=ImageKind.SYNTHETIC).values("generator_id")
    return list(Generator.objects.filter(pk__in=ids).select_related("training_run").order_by("pk"))


def _finite(value: float) -> float | None:
    # The pairs are stored in a JSON report, which has no infinity.
    return value if np.isfinite(value) else None


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
