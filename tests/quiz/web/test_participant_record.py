"""The record is read-only in the admin, and staff pilots are never counted."""

import logging

import pytest
from django.test import Client
from django.urls import reverse

from quiz.analysis.reports import study_report
from quiz.analysis.trials import flag_participants, study_trials, trial_rows
from quiz.models import CountedSessions, Guess, Participant, Round
from quiz.studies.showings import showings
from tests.participant_requests import answers_for, round_page

pytestmark = pytest.mark.django_db


def _participant_with_a_round(study) -> Participant:
    client = Client()
    url = reverse("quiz:start", args=[study.slug])
    client.get(url + "?PROLIFIC_PID=abc123&STUDY_ID=s1&SESSION_ID=x9")
    client.post(url, {"consent": "on", "expertise": "none"})
    round_, _ = round_page(client, study)
    client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers_for(round_))
    return Participant.objects.get()


def test_a_post_to_a_participants_change_form_changes_nothing(admin_client, make_study):
    participant = _participant_with_a_round(make_study())
    before = Participant.objects.values().get(pk=participant.pk)
    url = reverse("admin:quiz_participant_change", args=[participant.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    content = page.content.decode()
    assert (
        "abc123" in content
        and 'name="external_id"' not in content
        and 'name="design"' not in content
    )
    forged = {
        "external_id": "someone-else",
        "external_study_id": "s2",
        "external_session_id": "y0",
        "design": "R" * len(participant.design),
        "finished_at_0": "2020-01-01",
        "finished_at_1": "00:00:00",
        "is_audit": "on",
        "is_pilot": "on",
        "expertise": "sonographer",
        "years_experience": "30",
    }
    response = admin_client.post(url, forged)
    assert response.status_code == 403
    assert Participant.objects.values().get(pk=participant.pk) == before
    assert admin_client.get(reverse("admin:quiz_participant_add")).status_code == 403


def test_no_trial_can_be_added_changed_or_deleted(admin_client, make_study):
    _participant_with_a_round(make_study())
    guess = Guess.objects.first()
    answer = guess.answer
    change = reverse("admin:quiz_guess_change", args=[guess.pk])
    assert admin_client.get(change).status_code == 200  # it can be read
    assert admin_client.post(change, {"answer": "real", "correct": "on"}).status_code == 403
    assert admin_client.get(reverse("admin:quiz_guess_add")).status_code == 403
    delete = reverse("admin:quiz_guess_delete", args=[guess.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    guess.refresh_from_db()
    assert guess.answer == answer and Guess.objects.count() == 10


def test_a_withdrawal_deletes_the_whole_participant_and_is_logged(admin_client, make_study, caplog):
    participant = _participant_with_a_round(make_study())
    url = reverse("admin:quiz_participant_delete", args=[participant.pk])
    with caplog.at_level(logging.WARNING, logger="quiz.withdrawals"):
        response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Participant.objects.exists() and not Guess.objects.exists()
    assert "withdrawal" in caplog.text and "abc123" in caplog.text


def test_the_participant_list_shows_ids_state_and_pilots(admin_client, make_study):
    study = make_study()
    _participant_with_a_round(study)
    admin_client.post(reverse("quiz:take_as_pilot", args=[study.pk]))
    page = admin_client.get(reverse("admin:quiz_participant_changelist")).content.decode()
    for text in ("abc123", "s1", "x9", "Partial", "Abandoned", "pilot (never counted)"):
        assert text in page


def test_the_counting_rule_cannot_change_once_published(admin_client, make_study):
    study = make_study(counted_sessions=CountedSessions.FINISHED)
    url = reverse("admin:quiz_study_change", args=[study.pk])
    assert 'name="counted_sessions"' not in admin_client.get(url).content.decode()
    response = admin_client.post(
        url,
        {
            "name": study.name,
            "slug": study.slug,
            "consent_text": study.consent_text,
            "counted_sessions": CountedSessions.FINISHED_AND_PARTIAL,
            "audits-TOTAL_FORMS": "0",
            "audits-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    study.refresh_from_db()
    assert study.counted_sessions == CountedSessions.FINISHED


def test_staff_take_the_live_study_as_a_pilot_that_is_never_counted(admin_client, make_study):
    study = make_study(counted_sessions=CountedSessions.FINISHED_AND_PARTIAL)
    _participant_with_a_round(study)
    before = (study_report(study), list(trial_rows(study)), showings(study))
    assert (before[0]["participants"], before[0]["trials"], len(before[1])) == (1, 10, 10)
    study_page = admin_client.get(reverse("admin:quiz_study_change", args=[study.pk]))
    pilot_url = reverse("quiz:take_as_pilot", args=[study.pk])
    assert pilot_url in study_page.content.decode()
    assert admin_client.get(pilot_url).status_code == 200
    response = admin_client.post(pilot_url)
    assert response["Location"] == reverse("quiz:round", args=[study.slug])
    for _ in range(2):  # the pilot answers every round, all of them right
        round_, _ = round_page(admin_client, study)
        admin_client.post(
            reverse("quiz:submit", args=[study.slug, round_.token]), answers_for(round_)
        )
    pilot = Participant.objects.get(is_pilot=True)
    assert pilot.finished_at is not None and Round.objects.filter(participant=pilot).count() == 2
    after = (study_report(study), list(trial_rows(study)), showings(study))
    assert after[1:] == before[1:]
    assert after[0]["participants"] == before[0]["participants"]
    assert after[0]["trials"] == before[0]["trials"]
    assert after[0]["sessions"]["counts"] == before[0]["sessions"]["counts"]
    assert after[0]["sessions"]["pilot_sessions_not_counted"] == 1
    assert all(trial.participant_id != pilot.pk for trial in study_trials(study))
    assert all(flag.participant_id != pilot.pk for flag in flag_participants(study_trials(study)))


def test_a_pilot_needs_staff_and_a_published_open_study(admin_client, client, make_study):
    study = make_study()
    url = reverse("quiz:take_as_pilot", args=[study.pk])
    assert "/admin/login/" in client.post(url)["Location"]
    study.is_published = False
    study.save()
    response = admin_client.post(url)
    assert response.status_code == 409
    assert "not published" in response.content.decode()
    assert not Participant.objects.exists()
