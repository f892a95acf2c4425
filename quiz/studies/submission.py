"""Recording a round's answers: all panels answered, each exactly once, nothing forged.

A submission that cannot be recorded stores nothing and says why; a normal browser never sends
one, so the messages speak to whoever forged or replayed it as much as to a participant.
"""

from dataclasses import dataclass

from django.db import transaction
from django.http import QueryDict
from django.utils import timezone

from quiz.models import Answer, Guess, ImageKind, Layout, Participant, Round, RoundPanel

# Browsers report at most this; anything larger is a stale tab, not a response time.
MAX_RESPONSE_MS = 60 * 60 * 1000
# A measured exposure may overrun the limit by a few frames (the hide lands on the next frame);
# more than this is not a measurement of the limited display.
EXPOSURE_SLACK_MS = 250


class SubmissionError(Exception):
    """A submission that cannot be recorded; the message is shown to the participant."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ParsedAnswer:
    answer: str
    response_ms: int | None
    exposure_ms: int | None
    rating: int | None = None
    viewer_ms: int | None = None


def rating_answer(rating: int, points: int) -> str:
    """The Real/Synthetic answer a rating on a `points`-point scale stands for: 1 … k/2 real,
    k/2 + 1 … k synthetic (1 = certainly real, k = certainly synthetic). Scales are even
    (quiz.models.RATING_POINTS), so no point is neutral and no tie needs breaking."""
    return Answer.REAL if rating <= points // 2 else Answer.SYNTHETIC


def parse_answers(
    round_: Round, data: QueryDict, panels: list[RoundPanel] | None = None
) -> dict[str, ParsedAnswer]:
    """Answers keyed by panel token; raises SubmissionError naming what is wrong.

    `panels`: the round's panels, when the caller has read them already. In the side-by-side
    layout, see `parse_pair_answers`.
    """
    panels = list(panels or round_.panels.all())
    if round_.layout == Layout.PAIR:
        return parse_pair_answers(round_, data, panels)
    panels = {panel.token: panel.letter for panel in panels}
    submitted = {
        key.split("-", 1)[1]
        for key in data
        if key.startswith(("panel-", "time-", "shown-", "viewer-"))
    }
    forged = submitted - panels.keys()
    if forged:
        raise SubmissionError("The submission names panels that are not in this round.")
    answers: dict[str, ParsedAnswer] = {}
    missing = []
    for token, letter in panels.items():
        value = data.get(f"panel-{token}", "")
        if value == "" or (round_.rating_points is None and value not in Answer.values):
            missing.append(letter)
            continue
        rating = _rating(round_, value, letter)
        answers[token] = ParsedAnswer(
            rating_answer(rating, round_.rating_points) if rating is not None else value,
            _milliseconds(data.get(f"time-{token}", ""), MAX_RESPONSE_MS, letter, "response time"),
            _exposure(round_, data.get(f"shown-{token}", ""), letter),
            rating,
            _viewer(round_, data.get(f"viewer-{token}", ""), letter),
        )
    if missing:
        raise SubmissionError(
            f"Answer every panel before submitting: {', '.join(sorted(missing))} "
            f"{'is' if len(missing) == 1 else 'are'} unanswered."
        )
    return answers


def _rating(round_: Round, value: str, letter: str) -> int | None:
    """The panel's rating on the round's scale; None for a Real/Synthetic round."""
    points = round_.rating_points
    if points is None:
        return None
    rating = int(value) if value.isascii() and value.isdigit() and len(value) <= 2 else 0
    if not 1 <= rating <= points:
        raise SubmissionError(
            f"The rating sent for panel {letter} ({value[:20]!s}) is not a point of this "
            f"round's scale (a whole number from 1 to {points}); nothing was recorded. Please "
            "reload the page and answer again."
        )
    return rating


def _viewer(round_: Round, raw: str, letter: str) -> int | None:
    """How long the panel's viewer was open; a timed round has no viewer (its exposure is the
    measurement), so it cannot have been open there."""
    if round_.exposure_limit_ms is not None and raw.strip() != "":
        raise SubmissionError(
            f"A viewer time was sent for panel {letter}, but this round is timed and has no "
            "viewer; nothing was recorded. Please reload the page and answer again."
        )
    return _milliseconds(raw, MAX_RESPONSE_MS, letter, "viewer time")


def parse_pair_answers(
    round_: Round, data: QueryDict, panels: list[RoundPanel]
) -> dict[str, ParsedAnswer]:
    """A side-by-side round's answers: for each pair, `pair-<n>` (n from 1) names the token of
    the panel chosen as real. Keyed by the chosen panel's token, each answer "real", with that
    panel's response and display times (the browser writes the same into both of a pair's)."""
    pairs: dict[str, list[RoundPanel]] = {}
    for panel in panels:
        pairs.setdefault(str((panel.pair or 0) + 1), []).append(panel)
    tokens = {panel.token: panel for panel in panels}
    for key in data:
        name, _, rest = key.partition("-")
        if (name == "pair" and rest not in pairs) or (
            name in ("panel", "time", "shown") and rest not in tokens
        ):
            raise SubmissionError("The submission names panels that are not in this round.")
        if name == "viewer":
            # Side by side a click on an image chooses it, so pairs have no viewer.
            raise SubmissionError(
                "A viewer time was sent, but side-by-side rounds have no viewer; nothing was "
                "recorded. Please reload the page and answer again."
            )
    answers: dict[str, ParsedAnswer] = {}
    missing = []
    for number, members in pairs.items():
        chosen = data.get(f"pair-{number}", "")
        panel = next((member for member in members if member.token == chosen), None)
        if panel is None:
            missing.append(number)
            continue
        answers[panel.token] = ParsedAnswer(
            Answer.REAL,
            _milliseconds(
                data.get(f"time-{panel.token}", ""), MAX_RESPONSE_MS, panel.letter, "response time"
            ),
            _exposure(round_, data.get(f"shown-{panel.token}", ""), panel.letter),
        )
    if missing:
        raise SubmissionError(
            f"Choose the real image of every pair before submitting: pair "
            f"{', '.join(sorted(missing, key=int))} {'is' if len(missing) == 1 else 'are'} "
            "unanswered."
        )
    return answers


def _exposure(round_: Round, raw: str, letter: str) -> int | None:
    if round_.exposure_limit_ms is None:
        return None  # untimed: the image stayed on screen, nothing to measure
    return _milliseconds(raw, round_.exposure_limit_ms + EXPOSURE_SLACK_MS, letter, "display time")


def _milliseconds(raw: str, maximum: int, letter: str, what: str) -> int | None:
    """A browser-measured duration; "" when the browser measured none (no JavaScript)."""
    if raw.strip() == "":
        return None
    try:
        value = round(float(raw))
    except (ValueError, OverflowError):
        value = -1
    if not 0 <= value <= maximum:
        raise SubmissionError(
            f"The {what} sent for panel {letter} ({raw[:20]!s} ms) is not a possible value; "
            "nothing was recorded. Please reload the page and answer again."
        )
    return value


def record_round(
    round_: Round, answers: dict[str, ParsedAnswer], panels: list[RoundPanel] | None = None
) -> None:
    """Store one Guess per answered panel, once: a second submission of the same round is
    refused. Every panel has one, except side by side, where the chosen panel of each pair
    has it (quiz.models.Guess).

    `panels`: the round's panels with their images, when the caller has read them already.
    """
    now = timezone.now()
    with transaction.atomic():
        claimed = Round.objects.filter(pk=round_.pk, submitted_at__isnull=True).update(
            submitted_at=now
        )
        if not claimed:
            raise SubmissionError("This round was already submitted.", status=409)
        if panels is None:
            panels = list(round_.panels.select_related("image"))
        Guess.objects.bulk_create(
            Guess(
                panel=panel,
                answer=answers[panel.token].answer,
                correct=answers[panel.token].answer == _truth(panel.image.kind),
                response_ms=answers[panel.token].response_ms,
                exposure_ms=answers[panel.token].exposure_ms,
                rating=answers[panel.token].rating,
                viewer_ms=answers[panel.token].viewer_ms,
            )
            for panel in panels
            if panel.token in answers
        )
        if _is_last_test_round(round_):
            # The session is finished when its data is complete, whether or not the browser
            # goes on to the summary page (quiz.models.SessionState).
            Participant.objects.filter(pk=round_.participant_id, finished_at__isnull=True).update(
                finished_at=now
            )


def _is_last_test_round(round_: Round) -> bool:
    # Rounds open one at a time, in order: the last index submitted means all of them were.
    participant = round_.participant
    rounds = len(participant.design) // participant.study.panels_per_round
    return not round_.is_practice and round_.index + 1 >= rounds


def _truth(kind: str) -> str:
    return Answer.REAL if kind == ImageKind.REAL else Answer.SYNTHETIC
