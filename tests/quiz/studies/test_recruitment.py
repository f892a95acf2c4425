"""Recruitment links: an external participant id, one session per id, resuming where one stopped."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from quiz.models import Participant, Round, SessionState
from tests.participant_requests import answers_for, round_page

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


PROLIFIC = "?PROLIFIC_PID=5f1d2c3b4a5e6f7081920a1b&STUDY_ID=60aa11bb22cc&SESSION_ID=7c7d7e7f8a8b"


def test_prolifics_study_and_session_ids_are_stored(client, make_study):
    study = make_study()
    _start(client, study, PROLIFIC)
    participant = Participant.objects.get()
    assert (
        participant.external_id,
        participant.external_study_id,
        participant.external_session_id,
    ) == ("5f1d2c3b4a5e6f7081920a1b", "60aa11bb22cc", "7c7d7e7f8a8b")


def test_a_returning_prolific_id_resumes_its_own_open_round_in_another_browser(client, make_study):
    study = make_study()
    _start(client, study, PROLIFIC)
    first = client.get(reverse("quiz:round", args=[study.slug])).content.decode()
    other_browser = Client()
    response = other_browser.get(reverse("quiz:start", args=[study.slug]) + PROLIFIC)
    assert response.status_code == 302
    assert response["Location"] == reverse("quiz:round", args=[study.slug])
    again = other_browser.get(response["Location"]).content.decode()
    assert _panel_urls(again) == _panel_urls(first) and len(_panel_urls(first)) == 10
    assert Participant.objects.count() == 1
    assert Round.objects.count() == 1  # the same open round, not a second one


def test_a_resumed_session_goes_on_from_the_next_round(client, make_study):
    study = make_study(real=20, synthetic=20)
    _start(client, study, "?pid=resumer-7")
    round_, _ = round_page(client, study)
    client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers_for(round_))
    other_browser = Client()
    other_browser.get(reverse("quiz:start", args=[study.slug]) + "?pid=resumer-7")
    second, page = round_page(other_browser, study)
    assert (second.index, second.participant_id) == (1, round_.participant_id)
    assert "Round 2 of" in page
    assert Participant.objects.get().state == SessionState.PARTIAL


def test_a_resume_with_another_prolific_session_id_is_refused(client, make_study):
    study = make_study()
    _start(client, study, PROLIFIC)
    stranger = Client()
    forged = PROLIFIC.replace("7c7d7e7f8a8b", "000000000000")
    response = stranger.get(reverse("quiz:start", args=[study.slug]) + forged)
    assert response.status_code == 409
    assert "already taken part" in response.content.decode()
    # Nothing of the session reached the stranger's browser.
    assert stranger.get(reverse("quiz:round", args=[study.slug]))["Location"] == reverse(
        "quiz:start", args=[study.slug]
    )
    refused = stranger.post(reverse("quiz:start", args=[study.slug]) + forged, {"consent": "on"})
    assert refused.status_code == 409
    assert Participant.objects.count() == 1


def test_a_finished_session_is_not_reopened_by_its_id(client, make_study):
    study = make_study(rounds_per_session=1)
    _start(client, study, "?pid=done-1")
    round_, _ = round_page(client, study)
    client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers_for(round_))
    assert Participant.objects.get().state == SessionState.FINISHED
    response = Client().get(reverse("quiz:start", args=[study.slug]) + "?pid=done-1")
    assert response.status_code == 409
    assert "already taken part" in response.content.decode()


def test_links_naming_ids_are_rate_limited_so_ids_cannot_be_tried_in_bulk(
    client, make_study, settings
):
    settings.QUIZ_START_RATE = "3/m"
    study = make_study()
    url = reverse("quiz:start", args=[study.slug])
    statuses = [client.get(url, {"pid": f"guess-{n}"}).status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get(url).status_code == 200  # the plain link (no id) is not counted


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


def test_a_browser_whose_session_was_withdrawn_can_consent_again(client, make_study):
    study = make_study()
    _start(client, study, "?pid=first")
    Participant.objects.all().delete()  # a withdrawal: the cookie still names the old session
    response = _start(client, study, "?pid=second")
    assert response["Location"] == reverse("quiz:round", args=[study.slug])
    assert client.get(response["Location"]).status_code == 200
    assert Participant.objects.get().external_id == "second"
