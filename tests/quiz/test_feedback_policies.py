"""What a participant learns after each round, per the study's feedback policy."""

import pytest
from django.urls import reverse

from quiz.models import ImageKind, Participant
from tests.quiz.test_quiz_flow import _answers, _consent, _round_page

pytestmark = pytest.mark.django_db


def _submit(client, study, round_):
    return client.post(reverse("quiz:submit", args=[study.slug, round_.token]), _answers(round_))


def test_score_only_never_sends_the_truth_of_an_image(client, make_study):
    study = make_study(feedback="score")
    _consent(client, study)
    round_, _ = _round_page(client, study)
    result = client.get(_submit(client, study, round_)["Location"]).content.decode()
    assert "Your score: 10 / 10" in result
    assert "Real:" not in result and "Synthetic:" not in result
    assert "answer-key" not in result


def test_the_key_after_each_round_names_the_real_and_synthetic_letters(client, make_study):
    study = make_study(feedback="key")
    _consent(client, study)
    round_, _ = _round_page(client, study)
    result = client.get(_submit(client, study, round_)["Location"]).content.decode()
    real = ", ".join(
        p.letter for p in round_.panels.select_related("image") if p.image.kind == ImageKind.REAL
    )
    assert f'<span id="real-letters">{real or "none"}</span>' in result


@pytest.mark.parametrize("feedback", ["key_at_end", "none"])
def test_without_per_round_feedback_the_next_round_follows(client, make_study, feedback):
    study = make_study(feedback=feedback)
    _consent(client, study)
    round_, _ = _round_page(client, study)
    response = _submit(client, study, round_)
    assert response["Location"] == reverse("quiz:round", args=[study.slug])
    result = client.get(reverse("quiz:result", args=[study.slug, round_.token]))
    assert result.status_code == 302  # no per-round result page to read the truth from


def test_the_key_at_the_end_is_shown_on_the_summary_only(client, make_study):
    study = make_study(real=5, synthetic=5, feedback="key_at_end")
    _consent(client, study)
    round_, _ = _round_page(client, study)
    _submit(client, study, round_)
    done = client.get(reverse("quiz:done", args=[study.slug])).content.decode()
    assert "Answer key of round 1" in done
    assert "Your score over the session" in done


def test_no_feedback_shows_neither_score_nor_key_at_the_end(client, make_study):
    study = make_study(real=5, synthetic=5, feedback="none")
    _consent(client, study)
    round_, _ = _round_page(client, study)
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
    _consent(client, study)
    round_, page = _round_page(client, study)
    assert round_.is_practice and "Practice round (not counted)" in page
    assert set(round_.panels.values_list("image_id", flat=True)) == {i.pk for i in practice}
    result = client.get(_submit(client, study, round_)["Location"]).content.decode()
    assert 'id="real-letters"' in result and "Start the study" in result
    test_round, page = _round_page(client, study)
    assert not test_round.is_practice and "Round 1 of 2" in page
    assert not set(test_round.panels.values_list("image_id", flat=True)) & {i.pk for i in practice}
    assert Participant.objects.get().rounds.count() == 2
