"""A reload of an open round is served from the page drawn when the round was first shown
(quiz.views.round_pages): the same page, with this request's CSRF token and CSP nonce, and only
while the round is the session's open round of a study still taking answers."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from quiz.models import Round
from tests.participant_requests import answers_for, consent

pytestmark = pytest.mark.django_db

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
STYLE_NONCE = re.compile(r'<style nonce="([^"]+)"')


def _get(client, study):
    response = client.get(reverse("quiz:round", args=[study.slug]))
    assert response.status_code == 200
    return response, response.content.decode()


def _without_request_values(page: str) -> str:
    return STYLE_NONCE.sub("NONCE", CSRF_INPUT.sub("CSRF", page))


def test_a_reload_is_the_drawn_page_with_this_requests_token_and_nonce(make_study):
    study = make_study(feedback="score")
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("quiz:start", args=[study.slug])).content.decode()
    token = CSRF_INPUT.search(page).group(1)
    consent_response = client.post(
        reverse("quiz:start", args=[study.slug]),
        {"consent": "on", "expertise": "none", "csrfmiddlewaretoken": token},
    )
    assert consent_response.status_code == 302
    drawn, first = _get(client, study)
    reloaded, again = _get(client, study)
    assert [t.name for t in drawn.templates][:1] == ["quiz/round.html"]
    assert reloaded.templates == [], "the reload drew the page again"
    assert _without_request_values(again) == _without_request_values(first)
    # Each response carries its own nonce, the one its CSP header allows.
    nonces = [STYLE_NONCE.search(page).group(1) for page in (first, again)]
    assert nonces[0] != nonces[1]
    assert f"'nonce-{nonces[1]}'" in reloaded["Content-Security-Policy"]
    assert "csrfQ7vTn2markerXk4" not in again and "nonceR8wLp3markerJm5" not in again
    # The reloaded page's token is accepted: the answers it sends are recorded.
    round_ = Round.objects.get(participant__study=study)
    answers = answers_for(round_) | {"csrfmiddlewaretoken": CSRF_INPUT.search(again).group(1)}
    submitted = client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers)
    assert submitted.status_code == 302
    round_.refresh_from_db()
    assert round_.submitted_at is not None


def test_an_answered_round_is_never_served_again(client, make_study):
    study = make_study(feedback="score")
    consent(client, study)
    _, first = _get(client, study)
    round_ = Round.objects.get(participant__study=study)
    client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers_for(round_))
    _, after = _get(client, study)
    assert Round.objects.filter(participant__study=study).count() == 2
    assert round_.token not in after
    assert all(panel.token not in after for panel in round_.panels.all())


def test_a_closed_study_sends_a_reload_to_its_end(client, make_study):
    study = make_study(feedback="score")
    consent(client, study)
    _get(client, study)
    study.closed_at = timezone.now()
    study.save()
    response = client.get(reverse("quiz:round", args=[study.slug]))
    assert response.status_code == 302
    assert response["Location"] == reverse("quiz:done", args=[study.slug])


def test_another_browser_never_gets_the_page(client, make_study):
    study = make_study(feedback="score")
    consent(client, study)
    _get(client, study)
    stranger = Client()
    consent(stranger, study)
    _, theirs = _get(stranger, study)
    rounds = list(Round.objects.filter(participant__study=study).order_by("pk"))
    assert len(rounds) == 2
    assert rounds[0].token not in theirs and rounds[1].token in theirs


def test_a_timed_round_is_drawn_at_every_view(client, make_study):
    study = make_study(exposure_ms=500)
    consent(client, study)
    _get(client, study)
    again, page = _get(client, study)
    assert again.templates and "data-already-shown" in page


def test_a_page_sent_back_with_an_error_is_not_kept(client, make_study):
    study = make_study(feedback="score")
    consent(client, study)
    _get(client, study)
    round_ = Round.objects.get(participant__study=study)
    refused = client.post(reverse("quiz:submit", args=[study.slug, round_.token]), {})
    assert refused.status_code == 400 and 'role="alert"' in refused.content.decode()
    _, reloaded = _get(client, study)
    assert 'class="error" role="alert"' not in reloaded
