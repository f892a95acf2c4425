"""Sessions and rounds: who sees which image when.

A participant's session is fixed when they consent (quiz.studies.design draws its sequence of real,
synthetic and catch trials). Each round then takes the next slots of that sequence and fills
them with images the participant has never seen, least-shown across all participants first, so
that every image of the study collects judgements.
"""

import random

import numpy as np
from django.db import IntegrityError, transaction

from quiz.models import (
    PANEL_LETTERS,
    Feedback,
    ImageKind,
    Participant,
    Round,
    RoundPanel,
    Study,
)
from quiz.studies.design import CATCH, REAL, SYNTHETIC, DesignError, session_design, session_length
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
    try:
        rounds = session_length(
            study.panels_per_round, real, synthetic, catch, study.rounds_per_session
        )
        design = session_design(
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
    if practice:
        index = 0
        practice_ids = list(images.practice)
        rng.shuffle(practice_ids)
        chosen = [(pk, False) for pk in practice_ids[: study.panels_per_round]]
    else:
        index = history.rounds
        panels = study.panels_per_round
        slots = participant.design[index * panels : (index + 1) * panels]
        if not slots:
            return None
        chosen = _fill(study, images, history.seen, slots, rng)
    try:
        with transaction.atomic():
            new_round = Round.objects.create(
                participant=participant,
                index=index,
                is_practice=practice,
                layout=study.layout,
                # Practice exists to teach: it always shows the key.
                feedback=Feedback.KEY_EACH_ROUND if practice else study.feedback,
                exposure_limit_ms=study.exposure_ms,
            )
            panels = RoundPanel.objects.bulk_create(
                RoundPanel(round=new_round, letter=letter, image_id=image_id, is_catch=is_catch)
                for letter, (image_id, is_catch) in zip(PANEL_LETTERS, chosen, strict=False)
            )
    except IntegrityError:
        # A concurrent request opened this round first: both show the same one.
        existing = participant.rounds.get(is_practice=practice, index=index)
        return existing, list(existing.panels.all())
    return new_round, panels


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
    shown = showings(study)
    candidates = {
        REAL: least_shown_first(images.pools[ImageKind.REAL], seen, shown, rng),
        SYNTHETIC: least_shown_first(images.pools[ImageKind.SYNTHETIC], seen, shown, rng),
        CATCH: least_shown_first(images.catch, seen, shown, rng),
    }
    chosen = []
    for slot in slots:
        if not candidates[slot]:
            raise StudyNotReady("the study's images changed: this session has run out of images")
        chosen.append((candidates[slot].pop(0), slot == CATCH))
    return chosen


def least_shown_first(
    pool: list[int], seen: set[int], shown: dict[int, int], rng: random.Random
) -> list[int]:
    keyed = [(shown.get(pk, 0), rng.random(), pk) for pk in pool if pk not in seen]
    return [pk for _, _, pk in sorted(keyed)]
