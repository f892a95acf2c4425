"""Catch trials exclude inattentive participants by the study's rule; outliers are flagged."""

import pytest
from django.urls import reverse

from quiz.analysis.trials import Trial, catch_exclusions, flag_participants
from quiz.models import Answer, Image, ImageKind, Participant
from quiz.studies.panels import render_study_panels
from quiz.studies.rounds import open_round, start_session
from quiz.studies.submission import ParsedAnswer, record_round

pytestmark = pytest.mark.django_db


def _trial(pid: int, truth: str, answer: str, *, catch=False, response_ms=900, image_id=1) -> Trial:
    return Trial(
        participant_id=pid,
        expertise="",
        round_id=pid,
        submitted_at=None,
        letter="A",
        image_id=image_id,
        truth=truth,
        training_run_id=None,
        training_run_name=None,
        checkpoint_step=None,
        seed=None,
        answer=answer,
        response_ms=response_ms,
        is_catch=catch,
    )


def test_more_catch_images_called_real_than_the_rule_allows_excludes():
    trials = [_trial(1, "synthetic", "real", catch=True)] + [
        _trial(2, "synthetic", a, catch=True) for a in ("real", "real", "synthetic")
    ]
    assert [e.participant_id for e in catch_exclusions(trials, max_real=1)] == [2]
    assert catch_exclusions(trials, max_real=2) == []


def test_a_participant_far_above_everyone_else_is_flagged():
    trials = []
    for pid in range(1, 11):
        trials += [_trial(pid, "real", "real" if i % 2 else "synthetic") for i in range(40)]
    trials += [_trial(99, "real", "real") for _ in range(40)]
    flagged = flag_participants(trials)
    assert [flag.participant_id for flag in flagged] == [99]
    assert "40/40" in flagged[0].reason


def test_answers_right_on_the_images_that_fool_everyone_else_are_flagged():
    # Ten people are right on the 30 easy images and fooled by the 10 hard ones (75 % overall).
    trials = []
    for pid in range(1, 11):
        trials += [_trial(pid, "real", "real", image_id=image) for image in range(30)]
        trials += [_trial(pid, "real", "synthetic", image_id=image) for image in range(30, 40)]
    # A participant who saw the hard images only, and was right on 8 of 10: 80 %, near the 75 %
    # of everyone else, but far above the 0 % everyone else scored on those very images.
    trials += [
        _trial(99, "real", "real" if image < 38 else "synthetic", image_id=image)
        for image in range(30, 40)
    ]
    flagged = flag_participants(trials)
    assert [flag.participant_id for flag in flagged] == [99]
    assert "8/10" in flagged[0].reason and "on the same images" in flagged[0].reason


def test_answers_faster_than_a_person_can_look_are_flagged():
    trials = [_trial(1, "real", ("real", "synthetic")[i % 2], response_ms=80) for i in range(6)]
    trials += [_trial(2, "real", ("real", "synthetic")[i % 2], response_ms=1500) for i in range(6)]
    assert [(f.participant_id, "under 200 ms" in f.reason) for f in flag_participants(trials)] == [
        (1, True)
    ]


def test_the_stats_page_shows_results_with_and_without_exclusions(client, make_study):
    study = make_study(
        real=10,
        synthetic=14,
        panels_per_round=12,
        catch_max_real=0,
        results_public=True,
        rounds_per_session=1,
    )
    catch = list(study.images.filter(kind=ImageKind.SYNTHETIC).order_by("pk")[:4])
    study.images.remove(*catch)
    study.catch_images.set(catch)
    render_study_panels(study)
    for careless in (True, False):
        participant = start_session(study)
        round_ = open_round(participant)
        assert round_.panels.filter(is_catch=True).count() == 4
        answers = {
            panel.token: ParsedAnswer(
                Answer.REAL if careless or panel.image.kind == ImageKind.REAL else "synthetic",
                1000,
                None,
            )
            for panel in round_.panels.select_related("image")
        }
        record_round(round_, answers)
    excluded = Participant.objects.order_by("pk").first()
    page = client.get(reverse("quiz:stats", args=[study.slug])).content.decode()
    assert f"<td>#{excluded.pk}</td>" in page
    assert 'id="without-exclusions"' in page
    # The headline trial count excludes catch trials and the excluded participant.
    assert '<span data-stat="trials">8</span>' in page
    assert "Flagged for review" not in page  # staff only
    assert Image.objects.filter(catch_in=study).count() == 4
