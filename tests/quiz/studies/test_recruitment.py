"""Recruitment links: an external participant id, one session per id, resuming where one stopped."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from quiz.models import Participant

pytestmark = pytest.mark.django_db


def _start(client, study, query: str = "", **fields):
    url = reverse("quiz:start", args=[study.slug]) + query
    client.get(url)
    return client.post(url, {"consent": "on", **fields})


def test_a_prolific_id_from_the_link_is_stored_with_the_questionnaire(client, make_study):
    study = make_study()
    response = _start(
        client,
        study,
        "?PROLIFIC_PID=5f1d2c3b4a&STUDY_ID=x",
        expertise="sonographer",
        years_experience="7",
    )
    assert response.status_code == 302
    participant = Participant.objects.get()
    assert participant.external_id == "5f1d2c3b4a"
    assert (participant.expertise, participant.years_experience) == ("sonographer", 7)


def test_a_generic_pid_is_taken_too(client, make_study):
    study = make_study()
    _start(client, study, "?pid=panel-17")
    assert Participant.objects.get().external_id == "panel-17"


def test_a_second_session_for_the_same_id_is_refused_with_a_message(client, make_study):
    study = make_study()
    _start(client, study, "?PROLIFIC_PID=abc123")
    second = Client()
    response = second.get(reverse("quiz:start", args=[study.slug]) + "?PROLIFIC_PID=abc123")
    assert response.status_code == 409
    assert "already taken part" in response.content.decode()
    refused = second.post(
        reverse("quiz:start", args=[study.slug]) + "?PROLIFIC_PID=abc123", {"consent": "on"}
    )
    assert refused.status_code == 409
    assert Participant.objects.count() == 1


def test_the_same_id_in_another_study_is_a_new_participant(client, make_study):
    _start(client, make_study(slug="one"), "?pid=abc")
    _start(Client(), make_study(slug="two"), "?pid=abc")
    assert Participant.objects.filter(external_id="abc").count() == 2


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "<script>", "ä"])
def test_a_malformed_id_gets_a_clear_message_and_no_participant(client, make_study, bad):
    study = make_study()
    response = client.get(reverse("quiz:start", args=[study.slug]), {"PROLIFIC_PID": bad})
    assert response.status_code == 400
    assert "participant id in this link is not valid" in response.content.decode()
    assert not Participant.objects.exists()


def test_consent_is_required(client, make_study):
    study = make_study()
    response = client.post(reverse("quiz:start", args=[study.slug]), {"expertise": "none"})
    assert response.status_code == 200
    assert "Please give your consent" in response.content.decode()
    assert not Participant.objects.exists()


def test_an_impossible_years_of_experience_is_refused_by_the_form(client, make_study):
    study = make_study()
    response = client.post(
        reverse("quiz:start", args=[study.slug]), {"consent": "on", "years_experience": "-3"}
    )
    assert response.status_code == 200
    assert not Participant.objects.exists()


def test_the_study_consent_text_is_shown(client, make_study):
    study = make_study(consent_text="Ethics approval REC-2026-17. You may withdraw at any time.")
    page = client.get(reverse("quiz:start", args=[study.slug])).content.decode()
    assert "Ethics approval REC-2026-17" in page


def test_coming_back_resumes_the_open_round(client, make_study):
    study = make_study()
    _start(client, study, "?pid=resumer")
    first = client.get(reverse("quiz:round", args=[study.slug])).content.decode()
    # A closed tab keeps its session cookie: the start link leads back to the same round.
    again = client.get(reverse("quiz:start", args=[study.slug]) + "?pid=resumer", follow=True)
    assert _panel_urls(again.content.decode()) == _panel_urls(first)
    assert len(_panel_urls(first)) == 10


def _panel_urls(page: str) -> list[str]:
    return re.findall(r'src="(/quiz/[^"]+/panel/[^"]+\.png)"', page)
