"""Each page of a participant's round costs a fixed, small number of queries, whatever its size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from quiz.models import Round

pytestmark = pytest.mark.django_db

# What each page reads and writes (tests run inside a transaction, so an atomic block adds a
# SAVEPOINT and its RELEASE):
EXPECTED = {
    # study, session, the open round with its panels (none yet), participant, the participant's
    # history, the study's images, their showings, savepoint, round, panels, release
    "new round": 11,
    # session, the open round with its study, participant and panels
    "round page": 2,
    # the panel with its round, participant, study and stored file
    "panel": 1,
    # study, session, the round with its participant, its panels with their images, savepoint,
    # claim, guesses, release
    "submit": 8,
    # study, session, the round with its participant, its panels with images and guesses, the
    # rounds submitted so far
    "result": 5,
}


def _queries(client, method: str, url: str, data: dict | None = None) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, data or {})
    assert response.status_code in {200, 302}, (url, response.status_code)
    assert "sessionid" not in response.cookies, f"{url} wrote the session"
    return len(captured), [query["sql"] for query in captured.captured_queries]


def _counts(client, make_study, panels: int) -> dict[str, int]:
    study = make_study(
        real=20, synthetic=20, slug=f"panels{panels}", panels_per_round=panels, feedback="score"
    )
    client.post(reverse("quiz:start", args=[study.slug]), {"consent": "on"})
    round_page = reverse("quiz:round", args=[study.slug])
    counts, statements = {}, {}
    counts["new round"], statements["new round"] = _queries(client, "get", round_page)
    counts["round page"], statements["round page"] = _queries(client, "get", round_page)
    round_ = Round.objects.get(participant__study=study)
    assert round_.panels.count() == panels
    panel = round_.panels.first()
    panel_url = reverse("quiz:panel", args=[study.slug, panel.token])
    counts["panel"], statements["panel"] = _queries(client, "get", panel_url)
    answers = {}
    for each in round_.panels.all():
        answers[f"panel-{each.token}"] = "real"
        answers[f"time-{each.token}"] = "900"
    submit = reverse("quiz:submit", args=[study.slug, round_.token])
    counts["submit"], statements["submit"] = _queries(client, "post", submit, answers)
    result = reverse("quiz:result", args=[study.slug, round_.token])
    counts["result"], statements["result"] = _queries(client, "get", result)
    assert round_.panels.filter(guess__isnull=False).count() == panels
    for page in ("round page", "panel", "result"):
        writes = [sql for sql in statements[page] if not sql.lstrip().upper().startswith("SELECT")]
        assert writes == [], f"a GET of the {page} wrote: {writes}"
    return counts


def test_queries_per_page_do_not_grow_with_the_panels_of_a_round(client, make_study):
    four = _counts(client, make_study, panels=4)
    ten = _counts(client, make_study, panels=10)
    assert four == ten
    assert ten == EXPECTED
