"""A study's trials as rows: read from the database, written to and read from the trial CSV.

The CSV is the study's data for a paper: one row per trial with its conditions. Image ids, not
stored paths, identify images: a path is never shown anywhere. `correct` is 1 or 0 so that a
column mean is the accuracy in any analysis tool.
"""

from collections.abc import Iterator

from django.db.models import F

from quiz.models import Guess, Study
from quiz.stats import Trial

TRIAL_FIELDS = (
    "participant",
    "expertise",
    "years_experience",
    "study",
    "image",
    "true_label",
    "training_run",
    "checkpoint_step",
    "seed",
    "round",
    "letter",
    "answer",
    "correct",
    "response_ms",
    "exposure_ms",
    "exposure_limit_ms",
    "layout",
    "feedback",
    "practice",
    "catch",
    "submitted_at",
)


def study_trials(study: Study) -> Iterator[Trial]:
    """The study's trials in submission order; open rounds and the leak audit's are not trials."""
    rows = (
        Guess.objects.filter(
            panel__round__participant__study=study,
            panel__round__participant__is_audit=False,
            panel__round__submitted_at__isnull=False,
        )
        .order_by("panel__round__submitted_at", "panel__round_id", "panel__letter")
        .values(
            "answer",
            "response_ms",
            "exposure_ms",
            participant_id=F("panel__round__participant_id"),
            expertise=F("panel__round__participant__expertise"),
            years_experience=F("panel__round__participant__years_experience"),
            round_id=F("panel__round_id"),
            round_index=F("panel__round__index"),
            is_practice=F("panel__round__is_practice"),
            is_catch=F("panel__is_catch"),
            exposure_limit_ms=F("panel__round__exposure_limit_ms"),
            layout=F("panel__round__layout"),
            feedback=F("panel__round__feedback"),
            submitted_at=F("panel__round__submitted_at"),
            letter=F("panel__letter"),
            image_id=F("panel__image_id"),
            truth=F("panel__image__kind"),
            training_run_id=F("panel__image__training_run_id"),
            training_run_name=F("panel__image__training_run__name"),
            checkpoint_step=F("panel__image__checkpoint_step"),
            seed=F("panel__image__seed"),
        )
    )
    for row in rows.iterator(chunk_size=2000):
        yield Trial(**row)


def trial_rows(study: Study) -> Iterator[dict[str, object]]:
    """One dict per trial, keyed by TRIAL_FIELDS, for the CSV export."""
    for trial in study_trials(study):
        yield {
            "participant": trial.participant_id,
            "expertise": trial.expertise,
            "years_experience": trial.years_experience,
            "study": study.slug,
            "image": trial.image_id,
            "true_label": trial.truth,
            "training_run": trial.training_run_id,
            "checkpoint_step": trial.checkpoint_step,
            "seed": trial.seed,
            "round": trial.round_index + 1,
            "letter": trial.letter,
            "answer": trial.answer,
            "correct": int(trial.correct),
            "response_ms": trial.response_ms,
            "exposure_ms": trial.exposure_ms,
            "exposure_limit_ms": trial.exposure_limit_ms,
            "layout": trial.layout,
            "feedback": trial.feedback,
            "practice": int(trial.is_practice),
            "catch": int(trial.is_catch),
            "submitted_at": trial.submitted_at.isoformat(),
        }
