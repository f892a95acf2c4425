"""The study builder: held-out real images of one dataset and N images of each generator.

`plan_study` chooses; `create_study` makes the Study from a plan. The plan names every image it
refused and why, so staff see what a study leaves out before it exists:

- Real images must be usable (not excluded, any flag accepted), in their dataset's held-out
  part, and none that a chosen generator trained on: a run's record (trained_images and
  trained_pixel_hashes) or an external generator's training manifest (manifest_hashes), each
  matched by canonical pixels and by source frame, as the publish rule matches them.
- Synthetic images must be usable, and each generator gives the same number N: a comparison of
  generators is balanced. An N asked for that some generator cannot give is refused, never
  lowered silently; left blank, N is the most that every generator can give, and the plan names
  the generator that set it. The real count, left blank, matches all the synthetic images
  (N × generators), or all usable held-out images when there are fewer, and the plan says so.
- Grey and colour images in one plan are a rendering cue (quiz.studies.panels.StudyModes): the
  plan names the counts per class and refuses the mix, unless staff acknowledge it in writing, as
  publishing does (quiz.studies.rules.mode_problems); the study keeps the acknowledgement.
- The choice is a seeded ranking by pixel hash (like the dataset split), so the same seed over the
  same images chooses the same study on every machine, whatever the upload order.

The memorisation guard (near-copies of training images) needs torch and runs at publish, in the
audit: the builder leaves it to the publish rules rather than slowing a web request.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction

from quiz.models import Dataset, Generator, Image, ImageKind, Review, Split, Study
from quiz.studies.design import DesignError, session_length
from quiz.studies.panels import StudyModes, panel_size_for
from quiz.studies.rules import TrainingRecord, training_record

# Sessions of the default protocol: the plan checks it can fill one before a study exists.
DEFAULT_PANELS_PER_ROUND = Study._meta.get_field("panels_per_round").default

_SPLIT_WORDS = {Split.TRAIN: "train", Split.HELD_OUT: "held out"}


class BuildError(ValueError):
    """The builder's arguments, or a plan with problems, cannot make a study; says why."""


@dataclass(frozen=True)
class Refusal:
    image_id: int
    label: str
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.label}: {'; '.join(self.reasons)}"


def image_label(image: Image) -> str:
    """What a picker or a plan calls an image: its kind, split or generator, and its origin."""
    if image.kind == ImageKind.REAL:
        split = _SPLIT_WORDS.get(image.split, "in no part of the split")
        return f"real #{image.pk} {split} · {image.source_name or 'no file name'}"
    origin = (
        f"step {image.checkpoint_step}"
        if image.checkpoint_step is not None
        else (image.source_name or "no file name")
    )
    return f"synthetic #{image.pk} · generator “{image.generator}” {origin}"


@dataclass
class StudyPlan:
    dataset: Dataset
    generators: list[Generator]
    seed: int
    real: list[Image] = field(default_factory=list)
    synthetic: dict[int, list[Image]] = field(default_factory=dict)  # by generator pk
    refused: list[Refusal] = field(default_factory=list)
    # Usable images left out only because the counts were reached, by pool name.
    not_drawn: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    per_generator: int = 0
    mixed_modes_acknowledgement: str = ""

    @property
    def images(self) -> list[Image]:
        return [*self.real, *(image for images in self.synthetic.values() for image in images)]

    @property
    def panel_size(self) -> int:
        return panel_size_for(self.images)

    @property
    def modes(self) -> StudyModes:
        return StudyModes.of((image.kind, image.channels) for image in self.images)

    @property
    def fingerprint(self) -> str:
        """Names the chosen images: a preview and its creation must choose the same."""
        ids = ",".join(str(pk) for pk in sorted(image.pk for image in self.images))
        return hashlib.sha256(ids.encode()).hexdigest()[:16]

    def lines(self) -> list[str]:
        """The plan as text: what it chose, what it refused and why, and any problem."""
        lines = [
            f"Real: {len(self.real)} held-out image(s) of {self.dataset}"
            + (
                f" ({self.not_drawn['real']} more usable, not drawn)"
                if self.not_drawn.get("real")
                else ""
            )
        ]
        lines += [f"  {image_label(image)}" for image in self.real]
        for generator in self.generators:
            chosen = self.synthetic.get(generator.pk, [])
            left = self.not_drawn.get(generator.name)
            lines.append(
                f"Synthetic: {len(chosen)} image(s) of generator “{generator}”"
                + (f" ({left} more usable, not drawn)" if left else "")
            )
            lines += [f"  {image_label(image)}" for image in chosen]
        if self.refused:
            lines.append(f"Refused {len(self.refused)} image(s):")
            lines += [f"  {refusal}" for refusal in self.refused]
        if self.images:
            lines.append(f"Panel size: {self.panel_size} px (no image is upsampled)")
            lines.append(f"Panels: {self.modes.note} ({self.modes.counts()})")
        lines += [f"Note: {note}" for note in self.notes]
        lines += [f"Problem: {problem}" for problem in self.problems]
        return lines


def plan_study(
    dataset: Dataset,
    generators: Sequence[Generator],
    *,
    real_count: int | None = None,
    per_generator: int | None = None,
    seed: int = 0,
    mixed_modes_acknowledgement: str = "",
) -> StudyPlan:
    """Choose the study's images; a plan with problems names them and makes no study.

    A plan that mixes grey and colour images has a problem unless `mixed_modes_acknowledgement`
    states why the mix is acceptable (then a note; the study created keeps the statement).
    """
    if not generators:
        raise BuildError("Choose at least one generator.")
    if len({g.pk for g in generators}) != len(generators):
        raise BuildError("Each generator may be named once.")
    for name, count in (("real count", real_count), ("images per generator", per_generator)):
        if count is not None and count < 1:
            raise BuildError(f"The {name} must be at least 1 (got {count}).")
    plan = StudyPlan(
        dataset=dataset,
        generators=list(generators),
        seed=seed,
        mixed_modes_acknowledgement=mixed_modes_acknowledgement.strip(),
    )
    records = {g.pk: training_record(g) for g in generators}
    for generator in generators:
        record = records[generator.pk]
        if record is None:
            plan.notes.append(
                f"Generator “{generator}” came without a training manifest: whether this "
                "study's real images are held out from it is unknown, and the report says so."
            )
        elif record.is_empty:
            plan.problems.append(
                f"Generator “{generator}” (run “{generator.training_run}”) has no record of "
                "the images it trained on, so publishing would refuse its images: retrain "
                "it, or choose another generator."
            )
        if generator.trained_on_id and generator.trained_on_id != dataset.pk:
            plan.notes.append(
                f"Generator “{generator}” was trained on {generator.trained_on}, not {dataset}."
            )
    eligible_real = _eligible_real(plan, records)
    eligible_synthetic = {g.pk: _eligible_synthetic(plan, g) for g in generators}
    _choose(plan, eligible_real, eligible_synthetic, real_count, per_generator)
    _check_modes(plan)
    return plan


def _check_modes(plan: StudyPlan) -> None:
    finding = plan.modes.mix_finding()
    if finding is None:
        return
    if plan.mixed_modes_acknowledgement:
        plan.notes.append(f"{finding} Acknowledged: {plan.mixed_modes_acknowledgement}")
    else:
        plan.problems.append(
            f"{finding} Choose generators and a dataset of one mode, or acknowledge the mix "
            "in writing (“mixed modes acknowledgement”)."
        )


def _eligible_real(plan: StudyPlan, records: dict[int, TrainingRecord | None]) -> list[Image]:
    eligible = []
    real = plan.dataset.images.filter(kind=ImageKind.REAL).order_by("pk")
    for image in real.defer("signature"):
        reasons = _unusable(image)
        if image.split == Split.TRAIN:
            reasons.append("in the dataset's train part (generators train on it)")
        elif image.split != Split.HELD_OUT and image.is_usable:
            reasons.append("in no part of the dataset's split")
        for record in records.values():
            where = record.where(image) if record is not None else None
            if where is not None:
                reasons.append(f"{where.rstrip(',')} of {record.label}")
        if reasons:
            plan.refused.append(Refusal(image.pk, image_label(image), tuple(reasons)))
        else:
            eligible.append(image)
    return eligible


def _eligible_synthetic(plan: StudyPlan, generator: Generator) -> list[Image]:
    eligible = []
    images = generator.images.filter(kind=ImageKind.SYNTHETIC).select_related("generator")
    for image in images.defer("signature").order_by("pk"):
        reasons = _unusable(image)
        if reasons:
            plan.refused.append(Refusal(image.pk, image_label(image), tuple(reasons)))
        else:
            eligible.append(image)
    return eligible


def _unusable(image: Image) -> list[str]:
    if image.review == Review.EXCLUDED:
        return ["excluded by staff"]
    if image.flags and image.review != Review.ACCEPTED:
        flags = "; ".join(flag.get("reason", flag.get("code", "?")) for flag in image.flags)
        return [f"flagged and not accepted ({flags})"]
    return []


def _choose(
    plan: StudyPlan,
    eligible_real: list[Image],
    eligible_synthetic: dict[int, list[Image]],
    real_count: int | None,
    per_generator: int | None,
) -> None:
    available = {g.pk: len(eligible_synthetic[g.pk]) for g in plan.generators}
    fewest = min(plan.generators, key=lambda g: (available[g.pk], g.pk))
    if per_generator is None:
        n = available[fewest.pk]
        if n == 0:
            plan.problems.append(f"Generator “{fewest}” has no usable images.")
        elif len(plan.generators) > 1 and any(available[g.pk] > n for g in plan.generators):
            plan.notes.append(
                f"{n} image(s) per generator: generator “{fewest}” has {n} usable, and every "
                "generator gives the same number."
            )
    else:
        n = per_generator
        for generator in plan.generators:
            if available[generator.pk] < n:
                plan.problems.append(
                    f"Not enough images: generator “{generator}” has {available[generator.pk]} "
                    f"usable image(s), fewer than the {n} asked for each generator (every "
                    "generator gives the same number, so ask for at most "
                    f"{available[fewest.pk]})."
                )
    n = min(n, available[fewest.pk])
    plan.per_generator = n
    for generator in plan.generators:
        pool = eligible_synthetic[generator.pk]
        plan.synthetic[generator.pk] = _draw(pool, n, plan.seed, f"generator:{generator.pk}")
        plan.not_drawn[generator.name] = len(pool) - n

    wanted = n * len(plan.generators) if real_count is None else real_count
    if len(eligible_real) < wanted:
        if real_count is not None or not eligible_real:
            plan.problems.append(
                f"Not enough images: {plan.dataset} has {len(eligible_real)} usable held-out "
                f"real image(s) that no chosen generator trained on, fewer than the {wanted} "
                "asked for."
            )
        else:
            plan.notes.append(
                f"{len(eligible_real)} real image(s), all the usable held-out ones, against "
                f"{wanted} synthetic: a session shows as many of each kind as the smaller pool "
                "allows."
            )
    plan.real = _draw(eligible_real, min(wanted, len(eligible_real)), plan.seed, "real")
    plan.not_drawn["real"] = len(eligible_real) - len(plan.real)
    if plan.real and n:
        try:
            session_length(DEFAULT_PANELS_PER_ROUND, len(plan.real), n * len(plan.generators), 0)
        except DesignError as exc:
            plan.problems.append(f"Not enough images for one round of the default protocol: {exc}.")


def _draw(pool: list[Image], count: int, seed: int, salt: str) -> list[Image]:
    """The first `count` of a seeded ranking by pixel hash, in id order."""

    def rank(image: Image) -> tuple[str, int]:
        return hashlib.sha256(f"study:{seed}:{salt}:{image.sha256}".encode()).hexdigest(), image.pk

    return sorted(sorted(pool, key=rank)[:count], key=lambda image: image.pk)


def create_study(plan: StudyPlan, *, name: str, slug: str, layout: str) -> Study:
    """The Study of a plan without problems; its panel size follows its images (studies.panels).

    Its description stays blank: participants read it on the start page, and naming the
    generators there would tell them what the study compares.
    """
    if plan.problems:
        raise BuildError("The plan has problems: " + " ".join(plan.problems))
    if Study.objects.filter(slug=slug).exists():
        raise BuildError(f"A study with the slug “{slug}” exists already.")
    with transaction.atomic():
        study = Study.objects.create(
            name=name,
            slug=slug,
            layout=layout,
            mixed_modes_acknowledgement=plan.mixed_modes_acknowledgement,
        )
        study.images.set(plan.images)
    return study
