"""Forged, replayed or malformed submissions: a clear message, nothing stored twice, never a 500."""

import pytest
from django.urls import reverse

from quiz.models import Guess
from tests.participant_requests import answers_for, consent, round_page

pytestmark = pytest.mark.django_db


def _post(client, study, round_, answers):
    return client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers)


def test_a_replayed_submission_is_refused_and_recorded_once(client, make_study):
    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    answers = answers_for(round_)
    assert _post(client, study, round_, answers).status_code == 302
    assert _post(client, study, round_, answers).status_code == 409
    assert Guess.objects.count() == 10


def test_answers_for_panels_of_another_round_are_refused(client, make_study):
    study = make_study(real=20, synthetic=20)
    consent(client, study)
    first, _ = round_page(client, study)
    _post(client, study, first, answers_for(first))
    second, _ = round_page(client, study)
    mixed = {
        **answers_for(second),
        **{k: v for k, v in answers_for(first).items() if "panel-" in k},
    }
    response = _post(client, study, second, mixed)
    assert response.status_code == 400
    assert "not in this round" in response.content.decode()
    assert Guess.objects.count() == 10


@pytest.mark.parametrize("value", ["-5", "1e12", "nan", "inf", "soon"])
def test_an_impossible_response_time_is_refused_with_the_panel_named(client, make_study, value):
    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    answers = answers_for(round_)
    answers[f"time-{round_.panels.get(letter='D').token}"] = value
    response = _post(client, study, round_, answers)
    assert response.status_code == 400
    assert "response time sent for panel D" in response.content.decode()
    assert not Guess.objects.exists()


@pytest.mark.parametrize(("value", "accepted"), [("312", True), ("-1", False), ("9000", False)])
def test_the_display_time_must_fit_the_exposure_limit(client, make_study, value, accepted):
    study = make_study(exposure_ms=300)
    consent(client, study)
    round_, _ = round_page(client, study)
    answers = answers_for(round_)
    for panel in round_.panels.all():
        answers[f"shown-{panel.token}"] = "305"
    answers[f"shown-{round_.panels.get(letter='B').token}"] = value
    response = _post(client, study, round_, answers)
    if accepted:
        assert response.status_code == 302
        assert Guess.objects.get(panel__letter="B").exposure_ms == 312
        assert Guess.objects.filter(exposure_ms=305).count() == 9
    else:
        assert response.status_code == 400
        assert "display time sent for panel B" in response.content.decode()
        assert not Guess.objects.exists()


def test_an_untimed_study_ignores_display_times(client, make_study):
    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    answers = answers_for(round_)
    answers[f"shown-{round_.panels.first().token}"] = "-40"
    assert _post(client, study, round_, answers).status_code == 302
    assert not Guess.objects.filter(exposure_ms__isnull=False).exists()


def test_a_submission_without_a_session_is_not_found(client, make_study):
    from django.test import Client

    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    response = _post(Client(), study, round_, answers_for(round_))
    assert response.status_code == 404
    assert not Guess.objects.exists()
