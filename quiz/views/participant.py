"""The participant's path: consent → (practice) → rounds → feedback per the policy → summary.

Everything a participant's browser learns before submitting is letters and random tokens; the
truth of an image reaches it only after the round is recorded, and only under a feedback policy
that reveals it.
"""

import functools
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, connection
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.core import get_usage

from quiz.forms import EXTERNAL_ID_PATTERN, ConsentForm
from quiz.integrity.audit_access import is_audit_token
from quiz.models import (
    PANEL_LETTERS,
    Answer,
    Feedback,
    ImageKind,
    Layout,
    Participant,
    Round,
    RoundPanel,
    Study,
)
from quiz.studies.panels import read_panel, stored_panel
from quiz.studies.rounds import (
    StudyNotReady,
    display_size,
    next_round,
    rounds_in_session,
    start_session,
)
from quiz.studies.submission import SubmissionError, parse_answers, record_round
from quiz.views import round_pages

# The query parameters recruitment platforms append to a study link, for each Participant field,
# most specific first: Prolific's three, or a generic `pid`.
RECRUITMENT_PARAMETERS = {
    "external_id": ("PROLIFIC_PID", "pid"),
    "external_study_id": ("STUDY_ID",),
    "external_session_id": ("SESSION_ID",),
}
NO_RECRUITMENT_IDS = dict.fromkeys(RECRUITMENT_PARAMETERS, "")


# The session's key for its participant in a study: PARTICIPANT_KEY + the study's id.
PARTICIPANT_KEY = "participant:"
# The session's mark that it audits an unpublished study: AUDIT_KEY + the study's id.
AUDIT_KEY = "audit:"


def _session_key(study_id: int) -> str:
    return f"{PARTICIPANT_KEY}{study_id}"


def enter_session(request: HttpRequest, study: Study, participant: Participant) -> None:
    """This browser takes the participant's session from now on (consent, resume, pilot),
    replacing any session of the study it held."""
    # A browser that gains a session gets a new session key: one planted before cannot follow
    # it (session fixation).
    request.session.cycle_key()
    request.session[_session_key(study.pk)] = str(participant.token)


def _audit_key(study_id: int) -> str:
    return f"{AUDIT_KEY}{study_id}"


def _servable_study(request: HttpRequest, slug: str) -> Study:
    """A published study, or an unpublished one this session audits (integrity.audit_access)."""
    study = get_object_or_404(Study, slug=slug)
    _check_servable(request, study)
    return study


def _check_servable(request: HttpRequest, study: Study) -> None:
    if not study.is_published and not request.session.get(_audit_key(study.pk)):
        raise Http404("No such study.")


def _participant(request: HttpRequest, study: Study) -> Participant | None:
    token = request.session.get(_session_key(study.pk))
    if not token:
        return None
    participant = Participant.objects.filter(study=study, token=token).first()
    if participant is not None:
        participant.study = study  # the row just read: not read again for every use
    return participant


def _own_round(request: HttpRequest, study: Study, token: str) -> Round:
    """The session's round with this token, with its participant, in one query."""
    participant_token = request.session.get(_session_key(study.pk))
    round_ = (
        Round.objects.select_related("participant")
        .filter(token=token, participant__token=participant_token, participant__study=study)
        .first()
        if participant_token
        else None
    )
    if round_ is None:
        raise Http404("No such round in this session.")
    round_.participant.study = study
    return round_


def _open_round_token(request: HttpRequest, slug: str) -> str | None:
    """The token of this session's unanswered round of the study, if its page may be shown: the
    round is the session's participant's, and the study is servable and not closed.

    One small statement (a few columns, no model instance, its SQL built once: _open_round_sql):
    every reload starts here, and most end with the page stored when the round was drawn
    (quiz.views.round_pages). None when there is no such round (no participant yet, the next
    round still to be opened, the study closed or not servable): the caller then takes the long
    way, which says why.
    """
    tokens = [value for key, value in request.session.items() if key.startswith(PARTICIPANT_KEY)]
    if not tokens:
        return None
    token_field = Participant._meta.get_field("token")
    values = [token_field.get_db_prep_value(token, connection) for token in tokens]
    with connection.cursor() as cursor:
        cursor.execute(_open_round_sql(len(values)), [*values, slug])
        row = cursor.fetchone()
    if row is None:
        return None
    round_token, participant_token, study_id, is_published, closed_at = row
    if request.session.get(_session_key(study_id)) != str(token_field.to_python(participant_token)):
        return None
    if closed_at is not None or not (is_published or request.session.get(_audit_key(study_id))):
        return None
    return round_token


@functools.cache
def _open_round_sql(token_count: int) -> str:
    """The statement of `Round.objects.filter(participant__token__in=…, participant__study__slug=…,
    submitted_at__isnull=True).order_by("pk").values_list(…).first()`, built once per number of
    tokens: building and compiling that query through the ORM cost more CPU than running it, on
    every reload (docs/performance.md). Column and table names come from the models."""
    quote = connection.ops.quote_name

    def column(model, name: str) -> str:
        return f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(name).column)}"

    round_table, participant_table, study_table = (
        quote(model._meta.db_table) for model in (Round, Participant, Study)
    )
    placeholders = ", ".join(["%s"] * token_count)
    return (
        f"SELECT {column(Round, 'token')}, {column(Participant, 'token')}, "
        f"{column(Participant, 'study')}, {column(Study, 'is_published')}, "
        f"{column(Study, 'closed_at')} "
        f"FROM {round_table} "
        f"JOIN {participant_table} ON {column(Round, 'participant')} = {column(Participant, 'id')} "
        f"JOIN {study_table} ON {column(Participant, 'study')} = {column(Study, 'id')} "
        f"WHERE {column(Participant, 'token')} IN ({placeholders}) "
        f"AND {column(Study, 'slug')} = %s AND {column(Round, 'submitted_at')} IS NULL "
        # the first unanswered round, as quiz.studies.rounds.open_round takes it
        f"ORDER BY {column(Round, 'id')} LIMIT 1"
    )


def _read_round(token: str) -> tuple[Study, Round, list[RoundPanel]]:
    """A round with its participant and study (one row), and its panels' letters, tokens and
    pairs only: the panels with the round, participant and study joined to each were forty
    model instances and ten copies of every study column."""
    round_ = Round.objects.select_related("participant__study").get(token=token)
    panels = list(round_.panels.only("round_id", "letter", "token", "pair").order_by("letter"))
    return round_.participant.study, round_, panels


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    studies = Study.objects.filter(is_published=True).order_by("-created_at")
    return render(request, "quiz/home.html", {"studies": studies})


@require_http_methods(["GET", "POST"])
def start(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study, slug=slug)
    audit = request.GET.get("audit", "")
    if audit and is_audit_token(study, audit):
        request.session[_audit_key(study.pk)] = True
    _check_servable(request, study)
    if _participant(request, study) is not None:
        return redirect("quiz:round", slug=slug)
    if study.is_closed:
        return _closed(request, study)

    # Every consent, and every link that names a recruitment id (which may resume a session, so
    # ids must not be tried by the thousand), counts against the address's limit. The leak audit
    # takes the quiz many times from one address before publishing: not a flood.
    names_an_id = any(
        name in request.GET for names in RECRUITMENT_PARAMETERS.values() for name in names
    )
    if (request.method == "POST" or names_an_id) and not request.session.get(_audit_key(study.pk)):
        wait = _limited_for(request, "quiz.start", "ip", settings.QUIZ_START_RATE)
        if wait is not None:
            return _rate_limited(request, study, wait)

    ids = _recruitment_ids(request, study)
    if ids is None:
        return _refuse(
            request,
            study,
            "The participant id in this link is not valid: it may hold only letters, digits, "
            "“-” and “_” (at most 64). Please use the link exactly as you received it.",
            status=400,
        )
    if ids["external_id"]:
        existing = Participant.objects.filter(study=study, external_id=ids["external_id"]).first()
        if existing is not None:
            return _resume(request, study, existing, ids)

    form = ConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            participant = start_session(
                study,
                expertise=form.cleaned_data["expertise"],
                years_experience=form.cleaned_data["years_experience"],
                is_audit=bool(request.session.get(_audit_key(study.pk))),
                **ids,
            )
        except StudyNotReady:
            return render(request, "quiz/not_ready.html", {"study": study}, status=503)
        except IntegrityError:  # the same id consented in another tab a moment ago
            existing = Participant.objects.get(study=study, external_id=ids["external_id"])
            return _resume(request, study, existing, ids)
        enter_session(request, study, participant)
        return redirect("quiz:round", slug=slug)
    context = {
        "study": study,
        "form": form,
        "last_letter": PANEL_LETTERS[min(study.panels_per_round, len(PANEL_LETTERS)) - 1],
        "one_at_a_time": study.layout == Layout.SINGLE,
        "side_by_side": study.layout == Layout.PAIR,
    }
    return render(request, "quiz/start.html", context)


def _recruitment_ids(request: HttpRequest, study: Study) -> dict[str, str] | None:
    """The recruitment platform's ids from the link, "" where absent; None if one is malformed.

    Kept in the session from the first GET, so the consent POST (whose URL has no query) and a
    reload both know them.
    """
    key = f"recruitment:{study.pk}"
    if not any(name in request.GET for names in RECRUITMENT_PARAMETERS.values() for name in names):
        if request.method == "POST":
            return request.session.get(key, NO_RECRUITMENT_IDS)
        return dict(NO_RECRUITMENT_IDS)
    ids = {}
    for field, names in RECRUITMENT_PARAMETERS.items():
        given = [request.GET[name].strip() for name in names if name in request.GET]
        if given and not EXTERNAL_ID_PATTERN.fullmatch(given[0]):
            return None
        ids[field] = given[0] if given else ""
    request.session[key] = ids
    return ids


def _resume(
    request: HttpRequest, study: Study, participant: Participant, ids: dict[str, str]
) -> HttpResponse:
    """A returning recruitment id takes back its own unfinished session, in any browser.

    The platform's id is the credential (docs/quiz-integrity.md): whoever holds it is that
    participant. So a resume gives no more than the participant would see by carrying on, and
    less where it could: a finished session is not reopened (its summary holds the score and
    the score link), a session that came with Prolific's SESSION_ID (one random id per
    submission) is resumed only by the same one, and every link naming an id counts against the
    per-address limit of consents (start), so ids cannot be tried by the thousand.
    """
    stored = participant.external_session_id
    if participant.finished_at is not None or (stored and ids["external_session_id"] != stored):
        return _already_taken_part(request, study)
    enter_session(request, study, participant)
    return redirect("quiz:round", slug=study.slug)


def _already_taken_part(request: HttpRequest, study: Study) -> HttpResponse:
    return _refuse(
        request,
        study,
        "This participant id has already taken part in this study, and each person takes part "
        "once. If you were interrupted, open the study again from your recruitment platform's "
        "page: the same link takes you back to where you stopped.",
        status=409,
    )


def _closed(request: HttpRequest, study: Study) -> HttpResponse:
    return _refuse(
        request,
        study,
        "This study has closed: it no longer records answers. Thank you for your interest.",
        status=410,
    )


def _refuse(request: HttpRequest, study: Study, message: str, status: int) -> HttpResponse:
    return render(request, "quiz/refused.html", {"study": study, "message": message}, status=status)


def _limited_for(
    request: HttpRequest, group: str, key: str | Callable[..., str], rate: str
) -> int | None:
    """Counts this request (django-ratelimit, in the cache all web workers share); over the
    limit, the seconds until its window ends."""
    usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, usage["time_left"])


def _rate_limited(request: HttpRequest, study: Study, wait: int) -> HttpResponse:
    # Refused before anything is read or stored: the participant simply tries again later.
    response = _refuse(
        request,
        study,
        f"Too many requests in a short time. Nothing was recorded: please wait {wait} s, then "
        "try again.",
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response


@never_cache
@require_GET
def current_round(request: HttpRequest, slug: str) -> HttpResponse:
    token = _open_round_token(request, slug)
    if token is not None:
        stored = round_pages.stored(request, token)
        return stored if stored is not None else _render_round(request, *_read_round(token))
    study = _servable_study(request, slug)
    if study.is_closed:
        return redirect("quiz:done", slug=slug)
    participant = _participant(request, study)
    if participant is None:
        return redirect("quiz:start", slug=slug)
    try:
        opened = next_round(participant)
    except StudyNotReady:
        return render(request, "quiz/not_ready.html", {"study": study}, status=503)
    if opened is None:
        return redirect("quiz:done", slug=slug)
    return _render_round(request, study, *opened)


def _render_round(
    request: HttpRequest,
    study: Study,
    round_: Round,
    panels: list[RoundPanel],
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    panel_url, full_url = _token_url("quiz:panel", study), _token_url("quiz:panel_full", study)
    already_shown = False
    if round_.exposure_limit_ms is not None:
        # A timed round shows its images once: a reload or a refused submission draws the page
        # again, but the images stay hidden (their display time is then not measured).
        Round.objects.filter(pk=round_.pk).update(page_views=F("page_views") + 1)
        already_shown = round_.page_views > 0
    # Only letters and random tokens reach the page: never an image id, kind or file name.
    context = {
        "study": study,
        "round": round_,
        # Each panel with its image's URLs and the answer already chosen (kept when a
        # submission is sent back).
        "panels": [
            (
                panel,
                panel_url(panel.token),
                full_url(panel.token),
                request.POST.get(f"panel-{panel.token}", ""),
            )
            for panel in panels
        ],
        "answers": Answer.choices,
        "error": error,
        "progress": _progress(round_),
        "display_size": display_size(study),
        "grid": grid_shape(len(panels)),
        "scale": rating_scale(round_.rating_points),
        # A timed round has no viewer: its exposure limit is the measurement. Side by side has
        # none either: there a click on an image chooses it.
        "viewer": round_.exposure_limit_ms is None and round_.layout != Layout.PAIR,
        "one_at_a_time": round_.layout == Layout.SINGLE,
        "side_by_side": round_.layout == Layout.PAIR,
        "pairs": _pairs(panels, panel_url, request.POST) if round_.layout == Layout.PAIR else [],
        "already_shown": already_shown,
    }
    if status != 200:
        return render(request, "quiz/round.html", context, status=status)
    return round_pages.draw(request, round_, context)


def _token_url(name: str, study: Study) -> Callable[[str], str]:
    """The URL `name` takes for each panel token, resolved once per page: a page's URLs differ
    only in their last argument, and twenty calls of reverse() were a fifth of its time."""
    marker = "TOKEN"
    head, tail = reverse(name, args=[study.slug, marker]).rsplit(marker, 1)
    return lambda token: f"{head}{token}{tail}"


def rating_scale(points: int | None) -> list[tuple[str, str]]:
    """The confidence scale's points as (value, accessible name), or [] for Real/Synthetic:
    1 "certainly real" … k "certainly synthetic", the points nearest the middle "leaning"."""
    if not points:
        return []
    half = points // 2
    scale = []
    for value in range(1, points + 1):
        side, depth = ("real", value) if value <= half else ("synthetic", points + 1 - value)
        word = "certainly" if depth == 1 else "leaning" if depth == half else "probably"
        scale.append((str(value), f"{value} of {points}, {word} {side}"))
    return scale


def grid_shape(panels: int) -> dict[str, int]:
    """Columns and rows of a grid round on a landscape screen (static/css/site.css sizes the
    panels from the viewport so that they all fit): two rows of up to six."""
    columns = max(1, min(-(-panels // 2) if panels > 3 else panels, 6))
    return {"columns": columns, "rows": -(-panels // columns)}


def _pairs(
    panels: list[RoundPanel], panel_url: Callable[[str], str], data
) -> list[tuple[int, list[tuple[RoundPanel, str]], str]]:
    """Side by side: (number from 1, [left, right] each with its image's URL, the token chosen
    already) for each pair."""
    pairs: dict[int, list[tuple[RoundPanel, str]]] = {}
    for panel in panels:  # in letter order: the first of a pair is on the left
        pairs.setdefault((panel.pair or 0) + 1, []).append((panel, panel_url(panel.token)))
    return [(number, members, data.get(f"pair-{number}", "")) for number, members in pairs.items()]


def _progress(round_: Round) -> dict[str, object]:
    return {
        "practice": round_.is_practice,
        "number": round_.index + 1,
        "total": rounds_in_session(round_.participant),
    }


@require_POST
def submit_round(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    study = _servable_study(request, slug)
    round_ = _own_round(request, study, token)
    # Keyed by participant: a round's submissions, however many tabs or addresses send them.
    participant = f"participant:{round_.participant_id}"
    wait = _limited_for(request, "quiz.submit", lambda *_: participant, settings.QUIZ_SUBMIT_RATE)
    if wait is not None:
        return _rate_limited(request, study, wait)
    if round_.submitted_at is not None:
        return _already_submitted(request, study, round_)
    if study.is_closed:
        # Held-back scores are shown once a study closes: nothing may be recorded after that.
        return _closed(request, study)
    # Read once: parsing needs the tokens, recording the truth of each image.
    panels = list(round_.panels.select_related("image"))
    try:
        record_round(round_, parse_answers(round_, request.POST, panels), panels)
    except SubmissionError as exc:
        if exc.status == 409:
            return _already_submitted(request, study, round_)
        return _render_round(request, study, round_, panels, error=str(exc), status=exc.status)
    if _shows_result(round_):
        return redirect("quiz:result", slug=slug, token=token)
    return redirect("quiz:round", slug=slug)


def _already_submitted(request: HttpRequest, study: Study, round_: Round) -> HttpResponse:
    context = {"study": study, "round": round_, "shows_result": _shows_result(round_)}
    return render(request, "quiz/already_submitted.html", context, status=409)


def _shows_result(round_: Round) -> bool:
    # A result page follows a round whenever it has something to show: at least the score.
    return Feedback(round_.feedback).after_round.score


@never_cache
@require_GET
def round_result(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    study = _servable_study(request, slug)
    round_ = _own_round(request, study, token)
    if round_.submitted_at is None or not _shows_result(round_):
        return redirect("quiz:round", slug=slug)
    panels = list(round_.panels.select_related("image", "guess"))
    guesses = _guesses(panels)
    context = {
        "study": study,
        "round": round_,
        "progress": _progress(round_),
        "score": sum(guess.correct for guess in guesses),
        "total": len(guesses),
        "session_over": _session_over(round_.participant),
    }
    # The per-image truth reaches the browser only under a policy that reveals it.
    if Feedback(round_.feedback).after_round.key:
        context.update(_answer_key(panels))
    return render(request, "quiz/result.html", context)


def _guesses(panels: list[RoundPanel]) -> list:
    """The trials' answers: one per panel, or one per pair side by side (on the chosen panel).
    The panels come with their guesses read (select_related or prefetch_related)."""
    return [panel.guess for panel in panels if hasattr(panel, "guess")]


def _answer_key(panels: list[RoundPanel]) -> dict[str, object]:
    if any(panel.pair is not None for panel in panels):
        pairs: dict[int, list[RoundPanel]] = {}
        for panel in panels:
            pairs.setdefault((panel.pair or 0) + 1, []).append(panel)
        return {
            "pairs": [
                {
                    "number": number,
                    "letters": " | ".join(member.letter for member in members),
                    "chosen": next((m.letter for m in members if hasattr(m, "guess")), ""),
                    "real": ", ".join(m.letter for m in members if m.image.kind == ImageKind.REAL),
                    "correct": any(hasattr(m, "guess") and m.guess.correct for m in members),
                }
                for number, members in pairs.items()
            ],
            "real_letters": ", ".join(p.letter for p in panels if p.image.kind == ImageKind.REAL),
            "synthetic_letters": ", ".join(
                p.letter for p in panels if p.image.kind != ImageKind.REAL
            ),
        }
    return {
        "panels": panels,
        "real_letters": ", ".join(p.letter for p in panels if p.image.kind == ImageKind.REAL),
        "synthetic_letters": ", ".join(
            p.letter for p in panels if p.image.kind == ImageKind.SYNTHETIC
        ),
    }


def _session_over(participant: Participant) -> bool:
    done = participant.rounds.filter(is_practice=False, submitted_at__isnull=False).count()
    return done >= rounds_in_session(participant)


@never_cache
@require_GET
def session_done(request: HttpRequest, slug: str) -> HttpResponse:
    study = _servable_study(request, slug)
    participant = _participant(request, study)
    if participant is None:
        return redirect("quiz:start", slug=slug)
    session_over = _session_over(participant)
    if not session_over and not study.is_closed:
        return redirect("quiz:round", slug=slug)
    if session_over and participant.finished_at is None:
        Participant.objects.filter(pk=participant.pk, finished_at__isnull=True).update(
            finished_at=timezone.now()
        )
    rounds = _submitted_rounds(participant)
    feedback = Feedback(study.feedback)
    context = {
        "study": study,
        "session_over": session_over,
        "shows_score": feedback.at_end.score,
        **_score(rounds),
        "keys": (
            [(round_.index + 1, _answer_key(list(round_.panels.all()))) for round_ in rounds]
            if feedback.at_end.key
            else []
        ),
        "score_link": (
            reverse("quiz:score", args=[study.slug, participant.token])
            if feedback == Feedback.SCORE_AT_CLOSE
            else ""
        ),
    }
    return render(request, "quiz/done.html", context)


def _score(rounds: list[Round]) -> dict[str, int]:
    """The number correct and the number answered over these rounds' panels."""
    guesses = [guess for round_ in rounds for guess in _guesses(list(round_.panels.all()))]
    return {"score": sum(guess.correct for guess in guesses), "total": len(guesses)}


def _submitted_rounds(participant: Participant) -> list[Round]:
    return list(
        participant.rounds.filter(is_practice=False, submitted_at__isnull=False)
        .order_by("index")
        .prefetch_related("panels__image", "panels__guess")
    )


@never_cache
@require_GET
def held_back_score(request: HttpRequest, slug: str, token: uuid.UUID) -> HttpResponse:
    """A participant's score under "score when the study closes": shown only once it has closed.

    The link itself is the participant's random token, handed out on their summary page, so it
    works from any browser; before the study closes it says when to come back, and nothing else.
    """
    study = get_object_or_404(Study, slug=slug, feedback=Feedback.SCORE_AT_CLOSE)
    participant = get_object_or_404(Participant, study=study, token=token, is_audit=False)
    participant.study = study
    context: dict[str, object] = {"study": study}
    if study.is_closed:
        context.update(_score(_submitted_rounds(participant)))
    return render(request, "quiz/held_back_score.html", context)


@require_GET
def panel_image(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    return _serve_panel(slug, token, "file")


@require_GET
def viewer_image(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """The panel's viewer rendition (quiz.studies.panels): refused in a timed round, whose
    exposure limit is the measurement and which therefore has no viewer, and side by side, where
    a click on an image chooses it."""
    return _serve_panel(slug, token, "full_file")


def _serve_panel(slug: str, token: str, field: str) -> HttpResponse:
    # Five values, not four model rows: the panel view is most of a round's requests.
    row = (
        RoundPanel.objects.filter(token=token, round__participant__study__slug=slug)
        .values_list(
            "round__participant__study__is_published",
            "round__participant__is_audit",
            "round__exposure_limit_ms",
            "round__layout",
            stored_panel(field),
        )
        .first()
    )
    if row is None:
        raise Http404("No such panel.")
    is_published, is_audit, exposure_limit_ms, layout, stored = row
    if not is_published and not is_audit:
        raise Http404("No such panel.")
    if field == "full_file" and exposure_limit_ms is not None:
        raise Http404("A timed round has no viewer.")
    if field == "full_file" and layout == Layout.PAIR:
        raise Http404("A side-by-side round has no viewer.")
    if not stored:
        raise Http404("This study's panels are not rendered.")
    response = HttpResponse(read_panel(stored), content_type="image/png")
    # The same headers for every panel: nothing cacheable or dated that could differ by kind.
    response["Cache-Control"] = "no-store, private"
    response["X-Content-Type-Options"] = "nosniff"
    return response
