"""The participant's path: consent → a grid of panels → submit → answer key → next round."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from quiz.forms import ConsentForm
from quiz.models import PANEL_LETTERS, Answer, ImageKind, Participant, Round, RoundPanel, Study
from quiz.rounds import StudyNotReady, open_round, panel_png
from quiz.submission import SubmissionError, parse_answers, record_round


def _published_study(slug: str) -> Study:
    return get_object_or_404(Study, slug=slug, is_published=True)


def _session_key(study: Study) -> str:
    return f"participant:{study.pk}"


def _participant(request: HttpRequest, study: Study) -> Participant | None:
    token = request.session.get(_session_key(study))
    if not token:
        return None
    return Participant.objects.filter(study=study, token=token).first()


def _own_round(request: HttpRequest, study: Study, token: str) -> Round:
    participant = _participant(request, study)
    if participant is None:
        raise Http404("No such round in this session.")
    return get_object_or_404(Round, token=token, participant=participant)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    studies = Study.objects.filter(is_published=True).order_by("-created_at")
    return render(request, "quiz/home.html", {"studies": studies})


@require_http_methods(["GET", "POST"])
def start(request: HttpRequest, slug: str) -> HttpResponse:
    study = _published_study(slug)
    if _participant(request, study) is not None:
        return redirect("quiz:round", slug=slug)
    form = ConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        participant = Participant.objects.create(
            study=study, expertise=form.cleaned_data["expertise"]
        )
        request.session[_session_key(study)] = str(participant.token)
        return redirect("quiz:round", slug=slug)
    last_letter = PANEL_LETTERS[study.panels_per_round - 1]
    return render(
        request, "quiz/start.html", {"study": study, "form": form, "last_letter": last_letter}
    )


@never_cache
@require_GET
def current_round(request: HttpRequest, slug: str) -> HttpResponse:
    study = _published_study(slug)
    participant = _participant(request, study)
    if participant is None:
        return redirect("quiz:start", slug=slug)
    try:
        round_ = open_round(participant)
    except StudyNotReady:
        return render(request, "quiz/not_ready.html", {"study": study}, status=503)
    return _render_round(request, study, round_)


def _render_round(
    request: HttpRequest, study: Study, round_: Round, error: str = "", status: int = 200
) -> HttpResponse:
    # Only letters and random tokens reach the page: never an image id, kind or file name.
    context = {
        "study": study,
        "round": round_,
        # Each panel with the answer already chosen, kept when a submission is sent back.
        "panels": [
            (panel, request.POST.get(f"panel-{panel.token}", "")) for panel in round_.panels.all()
        ],
        "answers": Answer.choices,
        "error": error,
    }
    return render(request, "quiz/round.html", context, status=status)


@require_POST
def submit_round(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    study = _published_study(slug)
    round_ = _own_round(request, study, token)
    if round_.submitted_at is not None:
        return _already_submitted(request, study, round_)
    try:
        record_round(round_, parse_answers(round_, request.POST))
    except SubmissionError as exc:
        if exc.status == 409:
            return _already_submitted(request, study, round_)
        return _render_round(request, study, round_, error=str(exc), status=exc.status)
    return redirect("quiz:result", slug=slug, token=token)


def _already_submitted(request: HttpRequest, study: Study, round_: Round) -> HttpResponse:
    return render(
        request, "quiz/already_submitted.html", {"study": study, "round": round_}, status=409
    )


@never_cache
@require_GET
def round_result(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    study = _published_study(slug)
    round_ = _own_round(request, study, token)
    if round_.submitted_at is None:
        return redirect("quiz:round", slug=slug)
    panels = list(round_.panels.select_related("image", "guess"))
    context = {
        "study": study,
        "panels": panels,
        "real_letters": ", ".join(p.letter for p in panels if p.image.kind == ImageKind.REAL),
        "synthetic_letters": ", ".join(
            p.letter for p in panels if p.image.kind == ImageKind.SYNTHETIC
        ),
        "score": sum(p.guess.correct for p in panels),
        "total": len(panels),
    }
    return render(request, "quiz/result.html", context)


@require_GET
def panel_image(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    panel = get_object_or_404(
        RoundPanel.objects.select_related("image", "round__participant__study"),
        token=token,
        round__participant__study__slug=slug,
        round__participant__study__is_published=True,
    )
    study = panel.round.participant.study
    response = HttpResponse(panel_png(panel.image, study.panel_size), content_type="image/png")
    # The same headers for every panel: nothing cacheable or dated that could differ by kind.
    response["Cache-Control"] = "no-store, private"
    response["X-Content-Type-Options"] = "nosniff"
    return response
