"""The product's URLs plus /bench/bare/<round token>/: the round page's form after one query.

The bare view is the load benchmark's ceiling: the same template and context as the quiz's round
page, under the same middleware, but its data comes from a single query and it never touches
the session. It is not part of the product's URLs.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from quiz.models import Answer, Layout, RoundPanel
from webapp.urls import urlpatterns as product_urlpatterns

# load_quiz --baseline copies this file into revisions from before quiz/ had its rooms.
try:
    from quiz.studies.rounds import display_size, rounds_in_session
except ModuleNotFoundError:
    from quiz.rounds import display_size, rounds_in_session


@never_cache
@require_GET
def bare_round(request: HttpRequest, token: str) -> HttpResponse:
    panels = list(
        RoundPanel.objects.filter(round__token=token).select_related("round__participant__study")
    )
    round_ = panels[0].round
    study = round_.participant.study
    context = {
        "study": study,
        "round": round_,
        "panels": [(panel, "") for panel in panels],
        "answers": Answer.choices,
        "error": "",
        "progress": {
            "practice": round_.is_practice,
            "number": round_.index + 1,
            "total": rounds_in_session(round_.participant),
        },
        "display_size": display_size(study),
        "one_at_a_time": round_.layout == Layout.SINGLE,
        "already_shown": False,
    }
    return render(request, "quiz/round.html", context)


urlpatterns = [path("bench/bare/<str:token>/", bare_round), *product_urlpatterns]
