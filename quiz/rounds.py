"""Sessions and rounds: who sees which image when.

A participant's session is fixed when they consent (quiz.design draws its sequence of real,
synthetic and catch trials). Each round then takes the next slots of that sequence and fills
them with images the participant has never seen, least-shown across all participants first, so
that every image of the study collects judgements.
"""

import random

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Count

from quiz.design import CATCH, REAL, SYNTHETIC, DesignError, session_design, session_length
from quiz.models import (
    PANEL_LETTERS,
    Feedback,
    Image,
    ImageKind,
    Participant,
    Round,
    RoundPanel,
    Study,
)
from quiz.study_rules import test_pools

# Panels larger than this cost bandwidth (stored PNGs are uncompressed) and add nothing a screen
# shows; the setting may still go up to the model's limit.
DEFAULT_PANEL_SIZE_CAP = 512
MIN_DISPLAY_SIZE = 256


class StudyNotReady(Exception):
    """The study lacks the images a session needs."""


def panel_size_for(images: list[Image]) -> int:
    """The largest square size at which no image, of either kind, is upsampled."""
    sides = [min(image.width, image.height) for image in images]
    return min([*sides, DEFAULT_PANEL_SIZE_CAP]) if sides else MIN_DISPLAY_SIZE


def display_size(study: Study) -> int:
    """The CSS size panels are shown at: the panel size, but never smaller than 256 px."""
    return max(study.panel_size, MIN_DISPLAY_SIZE)


def start_session(study: Study, rng: np.random.Generator | None = None, **fields) -> Participant:
    """A new participant with their session's design drawn; raises StudyNotReady."""
    pools = test_pools(study)
    real, synthetic = len(pools[ImageKind.REAL]), len(pools[ImageKind.SYNTHETIC])
    catch = study.catch_images.count()
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
    rng = rng or random.SystemRandom()
    study = participant.study
    practice = _needs_practice(participant)
    if practice:
        index = 0
        practice_ids = list(study.practice_images.values_list("pk", flat=True))
        rng.shuffle(practice_ids)
        chosen = [(pk, False) for pk in practice_ids[: study.panels_per_round]]
    else:
        index = participant.rounds.filter(is_practice=False).count()
        panels = study.panels_per_round
        slots = participant.design[index * panels : (index + 1) * panels]
        if not slots:
            return None
        chosen = _fill(participant, slots, rng)
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
            RoundPanel.objects.bulk_create(
                RoundPanel(round=new_round, letter=letter, image_id=image_id, is_catch=is_catch)
                for letter, (image_id, is_catch) in zip(PANEL_LETTERS, chosen, strict=False)
            )
    except IntegrityError:
        # A concurrent request opened this round first: both show the same one.
        return participant.rounds.get(is_practice=practice, index=index)
    return new_round


def _needs_practice(participant: Participant) -> bool:
    return (
        participant.study.practice_images.exists()
        and not participant.rounds.filter(is_practice=True).exists()
    )


def _fill(participant: Participant, slots: str, rng: random.Random) -> list[tuple[int, bool]]:
    """An image for every slot: never one this participant saw, least-shown in the study first."""
    study = participant.study
    seen = set(
        RoundPanel.objects.filter(round__participant=participant).values_list("image_id", flat=True)
    )
    pools = test_pools(study)
    candidates = {
        REAL: _least_shown_first(
            study, [pk for pk in pools[ImageKind.REAL] if pk not in seen], rng
        ),
        SYNTHETIC: _least_shown_first(
            study, [pk for pk in pools[ImageKind.SYNTHETIC] if pk not in seen], rng
        ),
        CATCH: _least_shown_first(
            study,
            [pk for pk in study.catch_images.values_list("pk", flat=True) if pk not in seen],
            rng,
        ),
    }
    chosen = []
    for slot in slots:
        if not candidates[slot]:
            raise StudyNotReady("the study's images changed: this session has run out of images")
        chosen.append((candidates[slot].pop(0), slot == CATCH))
    return chosen


def _least_shown_first(study: Study, pool: list[int], rng: random.Random) -> list[int]:
    shown = dict(
        RoundPanel.objects.filter(
            round__participant__study=study,
            round__participant__is_audit=False,
            image_id__in=pool,
        )
        .values_list("image_id")
        .annotate(times=Count("pk"))
    )
    keyed = [(shown.get(pk, 0), rng.random(), pk) for pk in pool]
    return [pk for _, _, pk in sorted(keyed)]
