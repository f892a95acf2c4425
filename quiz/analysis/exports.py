"""The study's data for a paper: the wide CSV (one row per session) beside the long one (one row
per trial, quiz.analysis.trials), and a Psych-DS-style `dataset_description.json` describing
every column of both.

The wide CSV accounts for every session that is data (pilots and the leak audit's aside),
abandoned ones included, so that a CONSORT-style flow (started, finished, partial, abandoned,
excluded) can be read off it. Each participant's figures are computed over all their test
trials, whether or not the study's rule counts the session: `counted` says whether it does.

The metadata follows Psych-DS (https://psych-ds.github.io/): schema.org JSON-LD, a `Dataset`
with `name`, `description` and `variableMeasured`, one `PropertyValue` per column. A column in
both files means the same thing in both, so each is described once.
"""

from collections import defaultdict
from collections.abc import Iterator

import numpy as np
from django.utils import timezone

from quiz.analysis.trials import (
    TRIAL_FIELDS,
    Trial,
    catch_exclusions,
    external_ids,
    study_sessions,
    study_trials,
)
from quiz.models import Answer, CountedSessions, Study

WIDE_FIELDS = (
    "participant",
    "external_id",
    "external_study_id",
    "external_session_id",
    "session_state",
    "counted",
    "excluded",
    "expertise",
    "years_experience",
    "consented_at",
    "finished_at",
    "rounds_in_session",
    "rounds_submitted",
    "test_trials",
    "catch_trials",
    "catch_called_real",
    "accuracy",
    "balanced_accuracy",
    "real_accuracy",
    "fooling_rate",
    "dprime",
    "criterion",
    "median_response_ms",
)

_RATE = {"unitText": "proportion", "minValue": 0, "maxValue": 1}
_FLAG = {"unitText": "0 or 1", "minValue": 0, "maxValue": 1}
_MS = {"unitText": "milliseconds", "minValue": 0}
_COUNT = {"unitText": "count", "minValue": 0}

# Every column of both CSVs: (description, extra schema.org PropertyValue fields).
COLUMNS: dict[str, tuple[str, dict]] = {
    "participant": ("The participant's number in this study (a database id, not a person).", {}),
    "external_id": (
        "The recruitment platform's participant id from the study link (Prolific's "
        "PROLIFIC_PID or a generic pid); blank if none, and blank in public downloads.",
        {},
    ),
    "external_study_id": ("Prolific's STUDY_ID from the study link; blank if none.", {}),
    "external_session_id": ("Prolific's SESSION_ID from the study link; blank if none.", {}),
    "session_state": (
        "finished: every test round of the session submitted; partial: at least one test round "
        "submitted, not finished; abandoned: consented, no test round submitted.",
        {},
    ),
    "counted": (
        "1 if the study's rule, fixed before publishing (finished sessions only, or finished "
        "and partial), counts this session in its figures, else 0.",
        _FLAG,
    ),
    "excluded": (
        "1 if the attention-check rule (more catch images called real than the study allows) "
        "excludes the participant from the figures, else 0.",
        _FLAG,
    ),
    "expertise": (
        "Self-reported ultrasound experience: none, student, researcher, sonographer, or blank "
        "(prefer not to say).",
        {},
    ),
    "years_experience": ("Self-reported years of ultrasound experience; blank if not given.", {}),
    "consented_at": ("When the participant consented (ISO 8601, UTC).", {}),
    "finished_at": (
        "When the last test round was submitted (ISO 8601, UTC); blank if not finished.",
        {},
    ),
    "rounds_in_session": ("Test rounds the session's design holds.", _COUNT),
    "rounds_submitted": ("Test rounds the participant submitted.", _COUNT),
    "test_trials": ("Test trials answered (practice and catch trials not included).", _COUNT),
    "catch_trials": ("Catch (attention-check) trials answered.", _COUNT),
    "catch_called_real": ("Catch images the participant called real.", _COUNT),
    "accuracy": ("Share of the participant's test trials answered correctly.", _RATE),
    "balanced_accuracy": (
        "Mean of the accuracy on real and on synthetic panels; blank without both kinds.",
        _RATE,
    ),
    "real_accuracy": ("Share of real panels called real.", _RATE),
    "fooling_rate": ("Share of synthetic panels called real.", _RATE),
    "dprime": (
        "Sensitivity d' with synthetic as the signal and the log-linear correction (Hautus "
        "1995); blank without both kinds of panel.",
        {"unitText": "z units"},
    ),
    "criterion": (
        "Criterion c = -(z(H) + z(F)) / 2; above 0 is a bias towards answering real.",
        {"unitText": "z units"},
    ),
    "median_response_ms": ("Median response time over the test trials.", _MS),
    "study": ("The study's slug.", {}),
    "image": ("The image's id in the database (never its file name or path).", {}),
    "true_label": ("What the image is: real or synthetic.", {}),
    "generator": ("The name of the generator that made a synthetic image; blank if real.", {}),
    "training_run": ("The id of the training run that made a synthetic image; blank if real.", {}),
    "checkpoint_step": ("The generator's training step for a synthetic image.", _COUNT),
    "seed": ("The generator's random seed for a synthetic image.", {}),
    "round": ("The round's number within the session, from 1.", _COUNT),
    "letter": ("The panel's letter within its round (A, B, ...): its position.", {}),
    "answer": (
        "The participant's answer: real or synthetic (on a rating scale, derived from the "
        "rating: 1 to k/2 real, k/2 + 1 to k synthetic).",
        {},
    ),
    "rating": (
        "The confidence rating on the round's k-point scale, 1 = certainly real to k = "
        "certainly synthetic (k in rating_points); blank where the round asked for real or "
        "synthetic, or side by side (a choice, never rated).",
        {"minValue": 1, "maxValue": 10},
    ),
    "rating_points": ("The number of points k of the round's rating scale; blank if none.", {}),
    "correct": ("1 if the answer is the true label, else 0.", _FLAG),
    "response_ms": (
        "Milliseconds from the panel appearing to the last answer given for it (browser-"
        "measured); blank if not measured.",
        _MS,
    ),
    "exposure_ms": (
        "Milliseconds the image was on screen in a timed round (browser-measured).",
        _MS,
    ),
    "exposure_limit_ms": ("The round's exposure limit; blank if untimed.", _MS),
    "viewer_ms": (
        "Milliseconds the panel was enlarged in the viewer, summed over its openings "
        "(browser-measured); blank if the viewer was never opened (or the round was timed or "
        "side by side, which have no viewer).",
        _MS,
    ),
    "layout": (
        "grid (a grid of panels), single (one image at a time) or pair (two side by side, "
        "one real and one not: which is real? A pair is one trial, told from its non-real "
        "panel: image, true_label, generator and letter are that panel's; answer real means "
        "the participant chose it as real).",
        {},
    ),
    "pair": ("Side by side: the pair's number within its round, from 1; else blank.", _COUNT),
    "paired_image": ("Side by side: the id of the real image shown beside this one.", {}),
    "synthetic_side": ("Side by side: left or right, where the non-real image sat.", {}),
    "chosen_side": ("Side by side: left or right, the image the participant chose as real.", {}),
    "staircase": (
        "Adaptive exposure (HYPE-time): the generator whose staircase set this trial's exposure "
        "limit; blank otherwise (and on practice and catch trials).",
        {},
    ),
    "feedback": ("The round's feedback policy (docs/study-design.md).", {}),
    "practice": ("1 for a practice trial (not a test trial), else 0.", _FLAG),
    "catch": ("1 for a catch (attention-check) trial, else 0.", _FLAG),
    "submitted_at": ("When the round was submitted (ISO 8601, UTC).", {}),
}

_WIDE_FIGURES = ("accuracy", "balanced_accuracy", "real_accuracy", "fooling_rate")


def wide_rows(study: Study, *, identities: bool = True) -> Iterator[dict[str, object]]:
    """One dict per session, keyed by WIDE_FIELDS, in order of consent."""
    from quiz.analysis.stats.headline import PerParticipant  # loads scipy: on first use
    from quiz.analysis.stats.rows import Trials

    sessions = study_sessions(study)
    trials = list(study_trials(study))
    counted = CountedSessions(study.counted_sessions).states
    excluded = {e.participant_id for e in catch_exclusions(trials, study.catch_max_real)}
    tests = [trial for trial in trials if trial.is_test]
    figures: dict[int, dict[str, float]] = {}
    if tests:
        data = Trials.of(_analysis_row(trial) for trial in tests)
        values = PerParticipant.of(data).values()
        for index, participant in enumerate(data.participants):
            figures[participant] = {
                name: values[name][index] for name in (*_WIDE_FIGURES, "dprime", "criterion")
            }
    by_participant: dict[int, list[Trial]] = defaultdict(list)
    for trial in trials:
        by_participant[trial.participant_id].append(trial)
    panels = study.panels_per_round
    for session in sessions:
        own = by_participant.get(session.pk, [])
        catch = [trial for trial in own if trial.is_catch]
        times = [t.response_ms for t in own if t.is_test and t.response_ms is not None]
        yield {
            "participant": session.pk,
            **external_ids(session, identities),
            "session_state": session.state.value,
            "counted": int(session.state in counted),
            "excluded": int(session.pk in excluded),
            "expertise": session.expertise,
            "years_experience": session.years_experience,
            "consented_at": _iso(session.consented_at),
            "finished_at": _iso(session.finished_at),
            "rounds_in_session": len(session.design) // panels,
            "rounds_submitted": session.test_rounds_submitted,
            "test_trials": sum(trial.is_test for trial in own),
            "catch_trials": len(catch),
            "catch_called_real": sum(trial.answer == Answer.REAL for trial in catch),
            **dict.fromkeys((*_WIDE_FIGURES, "dprime", "criterion")),
            **{name: _number(value) for name, value in figures.get(session.pk, {}).items()},
            "median_response_ms": float(np.median(times)) if times else None,
        }


def _analysis_row(trial: Trial) -> dict[str, object]:
    return {
        "participant": trial.participant_id,
        "image": trial.image_id,
        "true_label": trial.truth,
        "answer": trial.answer,
        "layout": trial.layout,
    }


def _number(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 6)


def _iso(moment) -> str:
    return moment.isoformat() if moment else ""


def dataset_description(study: Study, *, trials_file: str, wide_file: str) -> dict:
    """The Psych-DS `dataset_description.json` of the study's two CSVs."""
    return {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "name": f"Real or Synthetic? {study.name}",
        "description": (
            (study.description.strip() + " " if study.description.strip() else "")
            + "A perceptual Turing test of ultrasound images: participants judged each image "
            "as real or synthetic (made by a neural network). One file has one row per trial "
            "(an answered panel), the other one row per session. Pilot and audit sessions are "
            "not included."
        ),
        "dateCreated": timezone.now().isoformat(),
        "keywords": ["perceptual Turing test", "ultrasound", "synthetic images", "GAN"],
        "distribution": [
            {
                "@type": "DataDownload",
                "name": trials_file,
                "encodingFormat": "text/csv",
                "description": "One row per trial; columns: " + ", ".join(TRIAL_FIELDS) + ".",
            },
            {
                "@type": "DataDownload",
                "name": wide_file,
                "encodingFormat": "text/csv",
                "description": "One row per session; columns: " + ", ".join(WIDE_FIELDS) + ".",
            },
        ],
        "variableMeasured": [
            {"@type": "PropertyValue", "name": name, "description": text, **extra}
            for name, (text, extra) in COLUMNS.items()
            if name in TRIAL_FIELDS or name in WIDE_FIELDS
        ],
    }


def export_names(study: Study) -> tuple[str, str, str]:
    """The file names of the long CSV, the wide CSV and the metadata, as downloaded."""
    return f"{study.slug}-trials.csv", f"{study.slug}-participants.csv", "dataset_description.json"
