"""The participant's path through a study: consent, a grid of panels, submission, answer key."""

import re

import pytest
from django.urls import reverse

from quiz.models import Guess, ImageKind, Participant, RoundPanel
from tests.participant_requests import answers_for, consent, round_page

pytestmark = pytest.mark.django_db


def test_consent_is_required_before_the_first_round(client, make_study):
    study = make_study()
    response = client.get(reverse("quiz:round", args=[study.slug]))
    assert response.status_code == 302
    assert response["Location"] == reverse("quiz:start", args=[study.slug])

    refused = client.post(reverse("quiz:start", args=[study.slug]), {"expertise": "none"})
    assert refused.status_code == 200
    assert "Please give your consent" in refused.content.decode()
    assert not Participant.objects.exists()


def test_a_round_shows_ten_panels_labelled_a_to_j(client, make_study):
    study = make_study()
    consent(client, study)
    round_, page = round_page(client, study)
    assert [p.letter for p in round_.panels.all()] == list("ABCDEFGHIJ")
    for letter in "ABCDEFGHIJ":
        assert f"<legend>{letter}</legend>" in page
    assert Participant.objects.get().expertise == "sonographer"


def test_the_page_source_does_not_tell_real_from_synthetic(client, make_study):
    study = make_study()
    consent(client, study)
    round_, page = round_page(client, study)
    lowered = page.lower()
    for word in ("synthetic", "real"):
        # Only the answer buttons may name the kinds, and they are the same for every panel.
        assert lowered.count(f'value="{word}"') == 10
    for panel in round_.panels.select_related("image"):
        assert str(panel.image.pk) not in re.findall(r"/panel/([^\"]+)\.png", page)
        assert panel.image.file.name not in page
        assert panel.image.sha256 not in page
    img_tags = re.findall(r"<img [^>]*>", page)
    assert len(img_tags) == 10
    # Every img tag is identical once its random token and letter are blanked out.
    blanked = {re.sub(r"/panel/[^\"]+\.png|Panel [A-J]", "X", tag) for tag in img_tags}
    assert len(blanked) == 1


def test_real_and_synthetic_panels_are_served_identically(client, make_study):
    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    headers_by_kind = {}
    for panel in round_.panels.select_related("image"):
        response = client.get(reverse("quiz:panel", args=[study.slug, panel.token]))
        assert response.status_code == 200
        body = response.content
        assert body.startswith(b"\x89PNG")
        width, height = int.from_bytes(body[16:20], "big"), int.from_bytes(body[20:24], "big")
        assert (width, height) == (study.panel_size, study.panel_size)
        headers = {k: v for k, v in response.headers.items() if k != "Content-Length"}
        headers_by_kind.setdefault(panel.image.kind, set()).add(tuple(sorted(headers.items())))
    assert headers_by_kind[ImageKind.REAL] == headers_by_kind[ImageKind.SYNTHETIC]
    assert len(headers_by_kind[ImageKind.REAL]) == 1


def test_submitting_records_ten_guesses_and_reveals_the_answer_key(client, make_study):
    study = make_study()
    consent(client, study)
    round_, page = round_page(client, study)
    assert "Real:" not in page and "Synthetic:" not in page
    answers = answers_for(round_)
    wrong_token = next(iter(round_.panels.all())).token
    truth = round_.panels.get(token=wrong_token).image.kind
    answers[f"panel-{wrong_token}"] = "real" if truth == "synthetic" else "synthetic"

    response = client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers)
    assert response.status_code == 302
    result = client.get(response["Location"]).content.decode()

    guesses = Guess.objects.filter(panel__round=round_)
    assert guesses.count() == 10
    assert guesses.filter(correct=True).count() == 9
    assert set(guesses.values_list("response_ms", flat=True)) == {1234}
    panels = list(round_.panels.select_related("image"))
    real = ", ".join(p.letter for p in panels if p.image.kind == ImageKind.REAL)
    synthetic = ", ".join(p.letter for p in panels if p.image.kind == ImageKind.SYNTHETIC)
    assert re.search(rf"Real:</strong> <span[^>]*>{real}</span>", result)
    assert re.search(rf"Synthetic:</strong> <span[^>]*>{synthetic}</span>", result)
    assert "Your score: 9 / 10" in result


def test_an_unanswered_panel_is_named_and_nothing_is_recorded(client, make_study):
    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    answers = answers_for(round_)
    panel_c = round_.panels.get(letter="C")
    del answers[f"panel-{panel_c.token}"]

    response = client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers)
    assert response.status_code == 400
    assert "C is unanswered" in response.content.decode()
    assert not Guess.objects.exists()
    # The answers already given are kept on the page.
    assert response.content.decode().count("checked") == 9


def test_a_second_submission_is_refused_and_recorded_once(client, make_study):
    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    url = reverse("quiz:submit", args=[study.slug, round_.token])
    assert client.post(url, answers_for(round_)).status_code == 302
    again = client.post(url, answers_for(round_, correct=False))
    assert again.status_code == 409
    assert "already submitted" in again.content.decode()
    assert Guess.objects.count() == 10
    assert Guess.objects.filter(correct=True).count() == 10


def test_a_forged_panel_is_refused(client, make_study):
    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    answers = answers_for(round_)
    answers["panel-forged-token"] = "real"
    response = client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers)
    assert response.status_code == 400
    assert "not in this round" in response.content.decode()
    assert not Guess.objects.exists()


def test_an_invalid_answer_value_counts_as_unanswered(client, make_study):
    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    answers = answers_for(round_)
    answers[f"panel-{round_.panels.get(letter='J').token}"] = "maybe"
    response = client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers)
    assert response.status_code == 400
    assert "J is unanswered" in response.content.decode()


def test_another_participants_round_cannot_be_submitted(client, make_study, django_user_model):
    from django.test import Client

    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    intruder = Client()
    consent(intruder, study)
    response = intruder.post(
        reverse("quiz:submit", args=[study.slug, round_.token]), answers_for(round_)
    )
    assert response.status_code == 404
    assert not Guess.objects.exists()


def test_reloading_an_unanswered_round_shows_the_same_panels(client, make_study):
    study = make_study()
    consent(client, study)
    first, _ = round_page(client, study)
    second, _ = round_page(client, study)
    assert first == second
    assert RoundPanel.objects.count() == 10


def test_unpublished_studies_are_not_served(client, make_study):
    study = make_study()
    study.is_published = False
    study.save()
    assert client.get(reverse("quiz:start", args=[study.slug])).status_code == 404


def test_a_study_without_enough_images_says_so(client, make_study):
    study = make_study(real=3, synthetic=1)
    response = consent(client, study)
    assert response.status_code == 503
    assert "not have enough images" in response.content.decode()
    assert not Participant.objects.exists()
