"""Sessions and rounds: who sees which image when.

A participant's session is fixed when they consent (quiz.studies.design draws its sequence of real,
synthetic and catch trials). Each round then takes the next slots of that sequence and fills
them with images the participant has never seen, least-shown across all participants first, so
that every image of the study collects judgements, and gives each synthetic slot to the generator
this participant has seen least (quiz.studies.design.next_generator), so that every participant
sees every generator equally often.
"""

import random
from collections import Counter
from collections.abc import Hashable, Mapping

import numpy as np
from django.db import IntegrityError, transaction

from quiz.models import (
    PANEL_LETTERS,
    Feedback,
    Image,
    ImageKind,
    Layout,
    Participant,
    Round,
    RoundPanel,
    Study,
)
from quiz.studies import staircase
from quiz.studies.design import (
    CATCH,
    REAL,
    SYNTHETIC,
    DesignError,
    next_generator,
    paired_session_design,
    session_design,
    session_length,
)
from quiz.studies.rules import StudyImages, study_images
from quiz.studies.showings import showings

MIN_DISPLAY_SIZE = 256


class StudyNotReady(Exception):
    """The study lacks the images a session needs."""


def display_size(study: Study) -> int:
    """The CSS size panels are shown at: the panel size, but never smaller than 256 px."""
    return max(study.panel_size, MIN_DISPLAY_SIZE)


def start_session(study: Study, rng: np.random.Generator | None = None, **fields) -> Participant:
    """A new participant with their session's design drawn; raises StudyNotReady."""
    images = study_images(study)
    real, synthetic = len(images.pools[ImageKind.REAL]), len(images.pools[ImageKind.SYNTHETIC])
    catch = len(images.catch)
    paired = study.layout == Layout.PAIR
    try:
        rounds = session_length(
            study.panels_per_round, real, synthetic, catch, study.rounds_per_session, paired
        )
        design = (paired_session_design if paired else session_design)(
            study.panels_per_round,
            rounds,
            real,
            synthetic,
            catch,
            rng or np.random.default_rng(),
        )
    except DesignError as exc:
        raise StudyNotReady(str(exc)) from exc
    return Participant.objects.create(study=study, design=design, **fields)


def rounds_in_session(participant: Participant) -> int:
    return len(participant.design) // participant.study.panels_per_round


def open_round(participant: Participant, rng: random.Random | None = None) -> Round | None:
    """The participant's unanswered round, or the next one; None when the session is over."""
    existing = participant.rounds.filter(submitted_at__isnull=True).first()
    if existing:
        return existing
    opened = next_round(participant, rng)
    return opened[0] if opened else None


def next_round(
    participant: Participant, rng: random.Random | None = None
) -> tuple[Round, list[RoundPanel]] | None:
    """Open the participant's next round: the round and its panels, None when the session is over.

    For a caller that found no unanswered round (open_round looks first). If a concurrent request
    opened the same round a moment earlier, that round is returned.
    """
    rng = rng or random.SystemRandom()
    study = participant.study
    history = _History(participant)
    images = study_images(study)
    practice = bool(images.practice) and not history.had_practice
    paired = study.layout == Layout.PAIR
    if practice:
        index = 0
        chosen = _practice(study, images.practice, paired, rng)
    else:
        index = history.rounds
        panels = study.panels_per_round
        slots = participant.design[index * panels : (index + 1) * panels]
        if not slots:
            return None
        chosen = _fill(study, images, history.seen, slots, rng)
    exposure, staircase_id = study.exposure_ms, None
    if study.adaptive_exposure:
        exposure, staircase_id = _adaptive(participant, images, chosen, practice, rng)
    try:
        with transaction.atomic():
            new_round = Round.objects.create(
                participant=participant,
                index=index,
                is_practice=practice,
                layout=study.layout,
                # Practice exists to teach: it always shows the key.
                feedback=Feedback.KEY_EACH_ROUND if practice else study.feedback,
                exposure_limit_ms=exposure,
                rating_points=study.rating_points,
                staircase_id=staircase_id,
            )
            panels = RoundPanel.objects.bulk_create(
                RoundPanel(
                    round=new_round,
                    letter=letter,
                    image_id=image_id,
                    is_catch=is_catch,
                    pair=position // 2 if paired else None,
                )
                for position, (letter, (image_id, is_catch)) in enumerate(
                    zip(PANEL_LETTERS, chosen, strict=False)
                )
            )
    except IntegrityError:
        # A concurrent request opened this round first: both show the same one.
        existing = participant.rounds.get(is_practice=practice, index=index)
        return existing, list(existing.panels.all())
    return new_round, panels


def _practice(
    study: Study, practice_ids: list[int], paired: bool, rng: random.Random
) -> list[tuple[int, bool]]:
    """The practice round's images, shuffled; side by side, as pairs of one real and one
    synthetic image, in random order on each side."""
    practice_ids = list(practice_ids)
    rng.shuffle(practice_ids)
    if not paired:
        return [(pk, False) for pk in practice_ids[: study.panels_per_round]]
    kinds = dict(Image.objects.filter(pk__in=practice_ids).values_list("pk", "kind"))
    real = [pk for pk in practice_ids if kinds[pk] == ImageKind.REAL]
    synthetic = [pk for pk in practice_ids if kinds[pk] != ImageKind.REAL]
    chosen = []
    for pair in list(zip(real, synthetic, strict=False))[: study.panels_per_round // 2]:
        chosen += [(pk, False) for pk in (pair if rng.random() < 0.5 else pair[::-1])]
    return chosen


def _adaptive(
    participant: Participant,
    images: StudyImages,
    chosen: list[tuple[int, bool]],
    practice: bool,
    rng: random.Random,
) -> tuple[int, int | None]:
    """The round's exposure and staircase under adaptive exposure (quiz.studies.staircase).

    The round holds one trial (the publish rules see to it): a synthetic image's generator
    names its staircase; a real trial is dealt to the staircase with the fewest trials so far;
    practice and catch rounds stand outside the staircases, at the top of the ladder.
    """
    top = staircase.LADDER_MS[-1]
    if practice or any(is_catch for _, is_catch in chosen):
        return top, None
    synthetic = [pk for pk, _ in chosen if pk in images.generator_of]
    if synthetic:
        staircase_id = images.generator_of[synthetic[0]]
    else:
        staircases = sorted(set(images.generator_of.values()), key=lambda g: (g is None, str(g)))
        staircase_id = staircase.real_trial_staircase(
            staircase.staircase_counts(participant), staircases, rng
        )
    return staircase.next_exposure(participant, staircase_id), staircase_id


class _History:
    """What a participant's rounds so far hold, read in one query."""

    def __init__(self, participant: Participant) -> None:
        self.had_practice = False
        self.seen: set[int] = set()
        indexes = set()
        for is_practice, index, image_id in participant.rounds.values_list(
            "is_practice", "index", "panels__image_id"
        ):
            self.had_practice |= is_practice
            if not is_practice:
                indexes.add(index)
            if image_id is not None:
                self.seen.add(image_id)
        self.rounds = len(indexes)  # test rounds opened so far


def _fill(
    study: Study, images: StudyImages, seen: set[int], slots: str, rng: random.Random
) -> list[tuple[int, bool]]:
    """An image for every slot: never one this participant saw, least-shown in the study first."""
    pools = {
        REAL: images.pools[ImageKind.REAL],
        SYNTHETIC: images.pools[ImageKind.SYNTHETIC],
        CATCH: images.catch,
    }
    try:
        chosen = fill_slots(slots, pools, images.generator_of, seen, showings(study), rng)
    except DesignError as exc:
        raise StudyNotReady(
            "the study's images changed: this session has run out of images"
        ) from exc
    return [(pk, slot == CATCH) for pk, slot in zip(chosen, slots, strict=True)]


def fill_slots(
    slots: str,
    pools: Mapping[str, list[int]],
    generator_of: Mapping[int, Hashable],
    seen: set[int],
    shown: Mapping[int, int],
    rng: random.Random,
) -> list[int]:
    """The images of a round's slots (quiz.studies.design's letters), in order.

    Each kind's images come least-shown in the study first, never one in `seen` (what this
    participant was shown before). A synthetic slot first takes its generator by
    design.next_generator, from what `seen` holds of each generator, then that generator's
    least-shown image. The oracle check fills its simulated sessions with this same function.
    Raises DesignError when a slot has no image left.
    """
    by_generator: dict[Hashable, list[int]] = {}
    for pk in pools[SYNTHETIC]:
        by_generator.setdefault(generator_of.get(pk), []).append(pk)
    candidates: dict[Hashable, list[int]] = {REAL: least_shown_first(pools[REAL], seen, shown, rng)}
    # One generator: its list is the whole synthetic pool, ordered with the same random draws
    # as before generators were balanced.
    generators = {
        generator: least_shown_first(pool, seen, shown, rng)
        for generator, pool in sorted(
            by_generator.items(), key=lambda item: (item[0] is None, str(item[0]))
        )
    }
    candidates[CATCH] = least_shown_first(pools[CATCH], seen, shown, rng)
    so_far = Counter(generator_of.get(pk) for pk in seen if pk in generator_of)
    chosen = []
    for slot in slots:
        if slot == SYNTHETIC:
            left = [generator for generator, images in generators.items() if images]
            generator = next_generator(so_far, left, rng)
            so_far[generator] += 1
            chosen.append(generators[generator].pop(0))
        elif candidates[slot]:
            chosen.append(candidates[slot].pop(0))
        else:
            raise DesignError(f"no image left for a slot {slot!r}")
    return chosen


def least_shown_first(
    pool: list[int], seen: set[int], shown: Mapping[int, int], rng: random.Random
) -> list[int]:
    keyed = [(shown.get(pk, 0), rng.random(), pk) for pk in pool if pk not in seen]
    return [pk for _, _, pk in sorted(keyed)]
