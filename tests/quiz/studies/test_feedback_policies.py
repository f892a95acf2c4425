"""What a participant learns after each round, per the study's feedback policy."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from quiz.models import Feedback, Guess, ImageKind, Participant
from tests.participant_requests import answers_for, consent, round_page

pytestmark = pytest.mark.django_db


def _submit(client, study, round_):
    return client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers_for(round_))


def test_score_only_never_sends_the_truth_of_an_image(client, make_study):
    study = make_study(feedback="score")
    consent(client, study)
    round_, _ = round_page(client, study)
    result = client.get(_submit(client, study, round_)["Location"]).content.decode()
    assert "Your score: 10 / 10" in result
    assert "Real:" not in result and "Synthetic:" not in result
    assert "answer-key" not in result


def test_the_key_after_each_round_names_the_real_and_synthetic_letters(client, make_study):
    study = make_study(feedback="key")
    consent(client, study)
    round_, _ = round_page(client, study)
    result = client.get(_submit(client, study, round_)["Location"]).content.decode()
    real = ", ".join(
        p.letter for p in round_.panels.select_related("image") if p.image.kind == ImageKind.REAL
    )
    assert f'<span id="real-letters">{real or "none"}</span>' in result


@pytest.mark.parametrize("feedback", ["key_at_end", "none"])
def test_without_per_round_feedback_the_next_round_follows(client, make_study, feedback):
    study = make_study(feedback=feedback)
    consent(client, study)
    round_, _ = round_page(client, study)
    response = _submit(client, study, round_)
    assert response["Location"] == reverse("quiz:round", args=[study.slug])
    result = client.get(reverse("quiz:result", args=[study.slug, round_.token]))
    assert result.status_code == 302  # no per-round result page to read the truth from


def test_the_key_at_the_end_is_shown_on_the_summary_only(client, make_study):
    study = make_study(real=5, synthetic=5, feedback="key_at_end")
    consent(client, study)
    round_, _ = round_page(client, study)
    _submit(client, study, round_)
    done = client.get(reverse("quiz:done", args=[study.slug])).content.decode()
    assert "Answer key of round 1" in done
    assert "Your score over the session" in done


def test_no_feedback_shows_neither_score_nor_key_at_the_end(client, make_study):
    study = make_study(real=5, synthetic=5, feedback="none")
    consent(client, study)
    round_, _ = round_page(client, study)
    _submit(client, study, round_)
    done = client.get(reverse("quiz:done", args=[study.slug])).content.decode()
    assert "Thank you" in done
    assert "score" not in done.lower() and "Real:" not in done


def test_a_practice_round_comes_first_shows_its_key_and_is_not_a_trial(client, make_study):
    from quiz.models import Image

    study = make_study(real=14, synthetic=14, feedback="none")
    practice = list(Image.objects.order_by("pk")[:2]) + list(Image.objects.order_by("-pk")[:2])
    study.images.remove(*practice)
    study.practice_images.set(practice)
    consent(client, study)
    round_, page = round_page(client, study)
    assert round_.is_practice and "Practice round (not counted)" in page
    assert set(round_.panels.values_list("image_id", flat=True)) == {i.pk for i in practice}
    result = client.get(_submit(client, study, round_)["Location"]).content.decode()
    assert 'id="real-letters"' in result and "Start the study" in result
    test_round, page = round_page(client, study)
    assert not test_round.is_practice and "Round 1 of 2" in page
    assert not set(test_round.panels.values_list("image_id", flat=True)) & {i.pk for i in practice}
    assert Participant.objects.get().rounds.count() == 2


@pytest.mark.parametrize("feedback", [policy.value for policy in Feedback])
def test_every_page_shows_exactly_what_the_oracle_check_assumes(client, make_study, feedback):
    """The oracle check reasons from Feedback.after_round and .at_end: the pages must agree."""
    policy = Feedback(feedback)
    study = make_study(real=5, synthetic=5, feedback=feedback)
    consent(client, study)
    round_, _ = round_page(client, study)
    response = _submit(client, study, round_)
    result = client.get(reverse("quiz:result", args=[study.slug, round_.token]))
    shown = result.content.decode() if result.status_code == 200 else ""
    assert ("Your score:" in shown) == policy.after_round.score
    assert ('id="real-letters"' in shown) == policy.after_round.key
    assert response.status_code == 302
    done = client.get(reverse("quiz:done", args=[study.slug])).content.decode()
    assert ("Your score over the session" in done) == policy.at_end.score
    assert ("Answer key of round 1" in done) == policy.at_end.key
    assert ('id="score-link"' in done) == (policy == Feedback.SCORE_AT_CLOSE)


def _finish_session(client, study) -> str:
    consent(client, study)
    round_, _ = round_page(client, study)
    _submit(client, study, round_)
    return client.get(reverse("quiz:done", args=[study.slug])).content.decode()


def test_a_held_back_score_appears_at_its_link_only_once_the_study_closes(client, make_study):
    study = make_study(real=5, synthetic=5, feedback="score_at_close")
    done = _finish_session(client, study)
    link = re.search(r'id="score-link" href="([^"]+)"', done).group(1)
    assert "Your score over the session" not in done
    # Another browser (no session cookie): the link alone is enough, and shows nothing yet.
    other = Client()
    pending = other.get(link).content.decode()
    assert 'id="score-pending"' in pending and 'id="score"' not in pending

    study.closed_at = timezone.now()
    study.save()
    shown = other.get(link).content.decode()
    assert '<strong id="score">10 / 10</strong>' in shown


def test_a_score_link_under_another_policy_or_of_another_study_is_not_found(client, make_study):
    study = make_study(real=5, synthetic=5, feedback="score")
    _finish_session(client, study)
    participant = Participant.objects.get()
    assert (
        client.get(reverse("quiz:score", args=[study.slug, participant.token])).status_code == 404
    )


def test_a_closed_study_starts_no_session_and_records_no_round(client, make_study):
    study = make_study(real=10, synthetic=10, feedback="score_at_close")
    consent(client, study)
    round_, _ = round_page(client, study)
    study.closed_at = timezone.now()
    study.save()
    refused = _submit(client, study, round_)
    assert refused.status_code == 410 and "has closed" in refused.content.decode()
    assert not Guess.objects.exists()
    assert client.get(reverse("quiz:round", args=[study.slug]))["Location"] == reverse(
        "quiz:done", args=[study.slug]
    )
    assert (
        "This study has closed"
        in client.get(reverse("quiz:done", args=[study.slug])).content.decode()
    )
    newcomer = Client().post(reverse("quiz:start", args=[study.slug]), {"consent": "on"})
    assert newcomer.status_code == 410
    assert Participant.objects.count() == 1
