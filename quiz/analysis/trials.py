"""A study's trials as rows: read from the database, screened, written to and read from CSV.

Practice trials and catch trials are recorded but are not trials of the test. Catch trials decide
exclusions (the study's rule, fixed before publishing); flags point staff at participants whose
answers need a look. The analysis itself is quiz.analysis.stats.

The CSV is the study's data for a paper: one row per trial with its conditions, the generator
of a synthetic image by its name.

Side by side (two-alternative forced choice) a pair is one trial, stored as one Guess on the
panel chosen as real (quiz.models.Guess). Its row is told from the pair's non-real panel: `image`,
`true_label` ("synthetic"), `generator` and `letter` are that panel's, `answer` is "real" when
the participant chose it (fooled) and "synthetic" when they chose the real image (correct), so
`correct`, the fooling rate and every per-image and per-generator figure read the same as in the
other layouts. `paired_image` is the real image beside it, `pair` the pair's number in its round,
`synthetic_side` and `chosen_side` ("left" or "right") where the non-real panel sat and which one
the participant chose. Image ids, not stored paths, identify images: a path is never
shown anywhere. `correct` is 1 or 0 so that a column mean is the accuracy in any analysis tool.
"""

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.db.models import F

from quiz.models import (
    Answer,
    CountedSessions,
    Guess,
    ImageKind,
    Participant,
    RoundPanel,
    Study,
)

# A response faster than this cannot follow from looking at the image (simple visual reaction
# times alone are ~200 ms); a participant most of whose answers are faster is flagged.
MIN_PLAUSIBLE_RESPONSE_MS = 200
# A participant whose accuracy is this unlikely given everyone else's on the same images (one-sided
# binomial test, Bonferroni over participants) is flagged for review: pooled feedback looks so.
OUTLIER_ALPHA = 0.01


@dataclass(frozen=True, slots=True)
class Trial:
    """One answered panel of a submitted round, with the provenance of its image."""

    participant_id: int
    expertise: str
    round_id: int
    submitted_at: datetime
    letter: str
    image_id: int
    truth: str
    training_run_id: int | None
    training_run_name: str | None
    checkpoint_step: int | None
    seed: int | None
    answer: str
    response_ms: int | None
    years_experience: int | None = None
    round_index: int = 0
    is_practice: bool = False
    is_catch: bool = False
    exposure_ms: int | None = None
    exposure_limit_ms: int | None = None
    layout: str = ""
    feedback: str = ""
    generator_id: int | None = None  # every synthetic image's generator; None on real panels
    generator_name: str | None = None
    rating: int | None = None  # 1 certainly real … rating_points certainly synthetic
    rating_points: int | None = None
    viewer_ms: int | None = None  # None: the viewer was never opened
    pair: int | None = None  # side by side: the pair's 0-based number in its round
    paired_image_id: int | None = None  # side by side: the real image beside this one
    synthetic_side: str = ""  # side by side: "left" or "right", where the non-real panel sat
    chosen_side: str = ""  # side by side: the side the participant chose as real
    staircase_name: str | None = None  # adaptive exposure: the staircase's generator

    @property
    def is_test(self) -> bool:
        return not (self.is_practice or self.is_catch)

    @property
    def correct(self) -> bool:
        # Derived rather than read from Guess.correct: the image's kind is the one source of truth.
        return self.answer == self.truth

    @property
    def fooled(self) -> bool:
        return self.truth == ImageKind.SYNTHETIC and self.answer == Answer.REAL


TRIAL_FIELDS = (
    "participant",
    "external_id",
    "external_study_id",
    "external_session_id",
    "session_state",
    "counted",
    "expertise",
    "years_experience",
    "study",
    "image",
    "true_label",
    "generator",
    "training_run",
    "checkpoint_step",
    "seed",
    "round",
    "letter",
    "answer",
    "rating",
    "rating_points",
    "correct",
    "response_ms",
    "exposure_ms",
    "exposure_limit_ms",
    "viewer_ms",
    "layout",
    "pair",
    "paired_image",
    "synthetic_side",
    "chosen_side",
    "staircase",
    "feedback",
    "practice",
    "catch",
    "submitted_at",
)


def study_sessions(study: Study) -> list[Participant]:
    """Every session of the study that is data (not the leak audit's, not a pilot), in order of
    consent, each with its progress (Participant.state reads it without a query)."""
    return list(
        Participant.objects.filter(study=study).counted_kind().with_progress().order_by("pk")
    )


def study_trials(study: Study) -> Iterator[Trial]:
    """The study's trials in submission order; open rounds, the leak audit's and pilots' are not
    trials."""
    rows = (
        Guess.objects.filter(
            panel__round__participant__study=study,
            panel__round__participant__is_audit=False,
            panel__round__participant__is_pilot=False,
            panel__round__submitted_at__isnull=False,
        )
        .order_by("panel__round__submitted_at", "panel__round_id", "panel__letter")
        .values(
            "answer",
            "rating",
            "viewer_ms",
            "response_ms",
            "exposure_ms",
            rating_points=F("panel__round__rating_points"),
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
            generator_id=F("panel__image__generator_id"),
            generator_name=F("panel__image__generator__name"),
            training_run_id=F("panel__image__training_run_id"),
            training_run_name=F("panel__image__training_run__name"),
            checkpoint_step=F("panel__image__checkpoint_step"),
            seed=F("panel__image__seed"),
            pair=F("panel__pair"),
            staircase_name=F("panel__round__staircase__name"),
        )
    )
    pairs = _pairs(study)
    for row in rows.iterator(chunk_size=2000):
        if row["pair"] is not None:
            row = _pair_trial(row, pairs[(row["round_id"], row["pair"])])
        yield Trial(**row)


_PANEL_FIELDS = {
    "letter": "letter",
    "image_id": "image_id",
    "truth": "image__kind",
    "is_catch": "is_catch",
    "generator_id": "image__generator_id",
    "generator_name": "image__generator__name",
    "training_run_id": "image__training_run_id",
    "training_run_name": "image__training_run__name",
    "checkpoint_step": "image__checkpoint_step",
    "seed": "image__seed",
}


def _pairs(study: Study) -> dict[tuple[int, int], list[dict]]:
    """(round id, pair) → the pair's two panels in letter order (left, right), for the study's
    side-by-side rounds; empty for a study without any."""
    pairs: dict[tuple[int, int], list[dict]] = defaultdict(list)
    panels = (
        RoundPanel.objects.filter(
            round__participant__study=study,
            round__submitted_at__isnull=False,
            pair__isnull=False,
        )
        .order_by("round_id", "letter")
        .values_list("round_id", "pair", *_PANEL_FIELDS.values())
    )
    for round_id, pair, *values in panels.iterator(chunk_size=2000):
        pairs[(round_id, pair)].append(dict(zip(_PANEL_FIELDS, values, strict=True)))
    return pairs


def _pair_trial(row: dict, members: list[dict]) -> dict:
    """A side-by-side trial's row, told from its non-real panel (the module docstring)."""
    sides = ("left", "right")
    other = next((m for m in members if m["truth"] != ImageKind.REAL), members[-1])
    real = next((m for m in members if m is not other), other)
    chosen = next(i for i, m in enumerate(members) if m["letter"] == row["letter"])
    return {
        **row,
        **other,
        "answer": Answer.REAL if members[chosen] is other else Answer.SYNTHETIC,
        "paired_image_id": real["image_id"],
        "synthetic_side": sides[members.index(other)],
        "chosen_side": sides[chosen],
    }


def trial_rows(study: Study, *, identities: bool = True) -> Iterator[dict[str, object]]:
    """One dict per trial, keyed by TRIAL_FIELDS, for the CSV export.

    Every session's trials are there, each marked with its session's state and whether the
    study's rule counts it, so that an analysis can apply the rule or another. `identities`:
    the recruitment platform's ids, or blanks (a public download: those ids resume sessions).
    """
    sessions = {participant.pk: participant for participant in study_sessions(study)}
    counted = CountedSessions(study.counted_sessions).states
    for trial in study_trials(study):
        session = sessions[trial.participant_id]
        yield {
            "participant": trial.participant_id,
            **external_ids(session, identities),
            "session_state": session.state.value,
            "counted": int(session.state in counted),
            "expertise": trial.expertise,
            "years_experience": trial.years_experience,
            "study": study.slug,
            "image": trial.image_id,
            "true_label": trial.truth,
            "generator": trial.generator_name,
            "training_run": trial.training_run_id,
            "checkpoint_step": trial.checkpoint_step,
            "seed": trial.seed,
            "round": trial.round_index + 1,
            "letter": trial.letter,
            "answer": trial.answer,
            "rating": trial.rating,
            "rating_points": trial.rating_points,
            "correct": int(trial.correct),
            "response_ms": trial.response_ms,
            "exposure_ms": trial.exposure_ms,
            "exposure_limit_ms": trial.exposure_limit_ms,
            "viewer_ms": trial.viewer_ms,
            "layout": trial.layout,
            "pair": trial.pair + 1 if trial.pair is not None else None,
            "paired_image": trial.paired_image_id,
            "synthetic_side": trial.synthetic_side,
            "chosen_side": trial.chosen_side,
            "staircase": trial.staircase_name,
            "feedback": trial.feedback,
            "practice": int(trial.is_practice),
            "catch": int(trial.is_catch),
            "submitted_at": trial.submitted_at.isoformat(),
        }


def external_ids(participant: Participant, identities: bool) -> dict[str, str]:
    """The recruitment platform's ids of a session, or blanks when they are not to be shown."""
    return {
        "external_id": participant.external_id if identities else "",
        "external_study_id": participant.external_study_id if identities else "",
        "external_session_id": participant.external_session_id if identities else "",
    }


# What --from-csv needs; every other column of TRIAL_FIELDS is optional.
REQUIRED_CSV_FIELDS = ("participant", "image", "true_label", "answer")
_LABELS = ("real", "synthetic")


class TrialCSVError(ValueError):
    """A trial CSV that cannot be analysed; the message names the file, line and column."""


def read_trials_csv(path: Path) -> list[dict[str, object]]:
    """Test trials from an exported, merged or external trial CSV, as analysis rows.

    Rows marked `practice` or `catch` (1) are not test trials and are left out. `correct` is
    derived from `true_label` and `answer`, whatever the file says. A `rating` column, where
    present, holds each trial's confidence rating (1 = certainly real … k = certainly
    synthetic; empty where the trial was not rated), and the report gains its ROC analysis.
    `layout` "pair" marks two-alternative forced-choice rows (every row of a file, or none:
    quiz.analysis.stats.rows), `staircase` and `exposure_limit_ms` give HYPE-time.
    """
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise TrialCSVError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    with handle:
        reader = csv.DictReader(handle)
        missing = [name for name in REQUIRED_CSV_FIELDS if name not in (reader.fieldnames or [])]
        if missing:
            raise TrialCSVError(f"{path}: missing column(s) {', '.join(missing)}")
        try:
            return [row for row in _analysis_rows(path, reader) if row is not None]
        except (csv.Error, UnicodeDecodeError) as exc:
            raise TrialCSVError(f"{path} line {reader.line_num}: not CSV text ({exc})") from exc


def _analysis_rows(path: Path, reader: csv.DictReader) -> Iterator[dict[str, object] | None]:
    for row in reader:
        where = f"{path} line {reader.line_num}"
        for name in REQUIRED_CSV_FIELDS:
            if not (row.get(name) or "").strip():
                raise TrialCSVError(f"{where}: {name} is empty")
        for name in ("true_label", "answer"):
            if row[name].strip() not in _LABELS:
                raise TrialCSVError(f"{where}: {name} must be real or synthetic, not {row[name]!r}")
        if _flag(row, "practice", where) or _flag(row, "catch", where):
            yield None
            continue
        yield {
            "participant": row["participant"].strip(),
            "image": row["image"].strip(),
            "true_label": row["true_label"].strip(),
            "answer": row["answer"].strip(),
            "expertise": (row.get("expertise") or "").strip(),
            "training_run": (row.get("training_run") or "").strip() or None,
            # A CSV from before generators has none: its training runs are then the generators.
            "generator": (row.get("generator") or "").strip() or None,
            "checkpoint_step": _number(row, "checkpoint_step", where),
            "round": _number(row, "round", where) or 1,
            "letter": (row.get("letter") or "").strip(),
            "response_ms": _number(row, "response_ms", where),
            "rating": _rating(row, where),
            "layout": (row.get("layout") or "").strip(),
            "synthetic_side": _side(row, where),
            "staircase": (row.get("staircase") or "").strip() or None,
            "exposure_limit_ms": _number(row, "exposure_limit_ms", where),
        }


def _side(row: dict, where: str) -> str:
    value = (row.get("synthetic_side") or "").strip()
    if value not in ("", "left", "right"):
        raise TrialCSVError(f"{where}: synthetic_side must be left or right, not {value!r}")
    return value


def _flag(row: dict, name: str, where: str) -> bool:
    value = (row.get(name) or "0").strip()
    if value not in ("0", "1", ""):
        raise TrialCSVError(f"{where}: {name} must be 0 or 1, not {value!r}")
    return value == "1"


def _number(row: dict, name: str, where: str) -> int | None:
    value = (row.get(name) or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise TrialCSVError(f"{where}: {name} must be a number, not {value!r}") from exc
    if number != number or number in (float("inf"), float("-inf")) or number < 0:
        raise TrialCSVError(f"{where}: {name} must be a non-negative number, not {value!r}")
    return round(number)


def _rating(row: dict, where: str) -> float | None:
    """A confidence rating: any finite number (the scale's points are 1 … k), or empty."""
    value = (row.get("rating") or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if number != number or number in (float("inf"), float("-inf")):
        raise TrialCSVError(f"{where}: rating must be a number, not {value!r}")
    return number


@dataclass(frozen=True)
class Exclusion:
    participant_id: int
    catch_called_real: int
    catch_trials: int


def catch_exclusions(trials: Iterable[Trial], max_real: int) -> list[Exclusion]:
    """Participants who called more than `max_real` catch images real (the study's rule)."""
    called_real: dict[int, int] = defaultdict(int)
    shown: dict[int, int] = defaultdict(int)
    for trial in trials:
        if trial.is_catch:
            shown[trial.participant_id] += 1
            called_real[trial.participant_id] += trial.answer == Answer.REAL
    return [
        Exclusion(pid, called_real[pid], shown[pid])
        for pid in sorted(shown)
        if called_real[pid] > max_real
    ]


@dataclass(frozen=True)
class Flag:
    participant_id: int
    reason: str


def flag_participants(trials: Iterable[Trial]) -> list[Flag]:
    """Participants whose answers need a look before they are trusted (not an exclusion rule).

    Two signs:
    - Answers that match a pooled pattern: an accuracy far above what everyone else achieved on the
      same images. Each trial is expected to be right as often as the other participants were right
      on its image (their pooled accuracy where no one else saw it); a one-sided exact binomial test
      at the mean of those rates, Bonferroni over participants, flags the participant. Scores or
      keys pooled across sessions (quiz.integrity.oracle_check), or a leak, look like this: right on
      exactly the images that fool everyone else. The rates differ from trial to trial, and a sum of
      unequal Bernoulli trials varies less than a binomial of the same mean, so the test is
      conservative.
    - Answers faster than a person can look at an image (most under MIN_PLAUSIBLE_RESPONSE_MS).
    """
    from scipy.stats import binomtest  # loaded by the statistics page, not by every process

    by_participant: dict[int, list[Trial]] = defaultdict(list)
    by_image: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # image → [correct, trials]
    for trial in trials:
        if trial.is_test:
            by_participant[trial.participant_id].append(trial)
            by_image[trial.image_id][0] += trial.correct
            by_image[trial.image_id][1] += 1
    total_correct = sum(correct for correct, _ in by_image.values())
    total = sum(n for _, n in by_image.values())
    flags = []
    for pid, group in sorted(by_participant.items()):
        correct = sum(trial.correct for trial in group)
        others_n = total - len(group)
        if others_n:
            others_rate = (total_correct - correct) / others_n
            expected = sum(_others_rate(by_image[t.image_id], t, others_rate) for t in group)
            rate = min(max(expected / len(group), 1e-6), 1 - 1e-6)
            p = binomtest(correct, len(group), rate, alternative="greater").pvalue
            if p * len(by_participant) < OUTLIER_ALPHA:
                flags.append(
                    Flag(
                        pid,
                        f"accuracy {correct}/{len(group)} where everyone else was right "
                        f"{rate:.0%} of the time on the same images (p = {p:.1e}, Bonferroni "
                        f"over {len(by_participant)}): answers like these come from pooled "
                        "feedback or a leak",
                    )
                )
        times = [trial.response_ms for trial in group if trial.response_ms is not None]
        fast = sum(time < MIN_PLAUSIBLE_RESPONSE_MS for time in times)
        if times and fast > len(times) / 2:
            flags.append(
                Flag(pid, f"{fast} of {len(times)} answers under {MIN_PLAUSIBLE_RESPONSE_MS} ms")
            )
    return flags


def _others_rate(image: list[int], trial: Trial, everyone_else: float) -> float:
    """How often the other participants were right on this trial's image."""
    correct, n = image[0] - trial.correct, image[1] - 1
    return correct / n if n else everyone_else
