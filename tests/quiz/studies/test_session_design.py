"""The session design: no image twice, each trial real with probability ½ whatever the pools."""

import numpy as np
import pytest
from django.urls import reverse

from quiz.models import ImageKind, Participant, RoundPanel
from quiz.studies.design import (
    CATCH,
    REAL,
    SYNTHETIC,
    DesignError,
    real_count_weights,
    session_design,
    session_length,
)
from quiz.studies.rounds import open_round, start_session

pytestmark = pytest.mark.django_db


def _answer_all_real(round_) -> dict[str, str]:
    return {f"panel-{panel.token}": "real" for panel in round_.panels.all()}


def test_answering_real_to_everything_scores_chance_with_unbalanced_pools():
    # 30 real and 6 synthetic images: the old design's real share followed the pools (61.5 %).
    rng = np.random.default_rng(7)
    rounds = session_length(10, real=30, synthetic=6, catch=0)
    designs = [session_design(10, rounds, 30, 6, 0, rng) for _ in range(2000)]
    trials = "".join(designs)
    accuracy_of_always_real = trials.count(REAL) / len(trials)
    assert len(trials) == 2000 * 10
    assert accuracy_of_always_real == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize(("test_trials", "usable"), [(10, 10), (10, 6), (49, 30), (1500, 1500)])
def test_the_real_count_is_the_truncated_binomial(test_trials, usable):
    from scipy.stats import binom

    pmf = binom.pmf(np.arange(test_trials - usable, usable + 1), test_trials, 0.5)
    weights = real_count_weights(test_trials, usable)
    assert weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(weights, pmf / pmf.sum(), rtol=1e-9, atol=1e-300)


def test_the_real_count_varies_between_sessions_and_rounds():
    rng = np.random.default_rng(1)
    designs = [session_design(10, 3, 40, 40, 0, rng) for _ in range(200)]
    per_round = {design[i : i + 10].count(REAL) for design in designs for i in (0, 10, 20)}
    assert len({design.count(REAL) for design in designs}) > 3
    assert min(per_round) <= 3 and max(per_round) >= 7


def test_a_session_never_needs_more_images_of_a_kind_than_the_pools_hold():
    rng = np.random.default_rng(3)
    for real, synthetic in [(30, 6), (6, 30), (11, 13), (5, 5)]:
        rounds = session_length(2, real, synthetic, catch=0)
        for _ in range(200):
            design = session_design(2, rounds, real, synthetic, 0, rng)
            assert design.count(REAL) <= real and design.count(SYNTHETIC) <= synthetic


def test_catch_trials_are_spread_over_the_session():
    rng = np.random.default_rng(5)
    design = session_design(10, 4, 40, 40, 4, rng)
    assert design.count(CATCH) == 4 and len(design) == 40


def test_a_session_that_asks_for_more_rounds_than_the_pools_allow_is_refused():
    with pytest.raises(DesignError, match="needs 0 catch image.*15 real and 15 synthetic"):
        session_length(10, real=30, synthetic=6, catch=0, rounds=3)


def test_no_participant_sees_an_image_twice_over_a_whole_session(client, make_study):
    study = make_study(real=13, synthetic=9, panels_per_round=3)
    client.post(reverse("quiz:start", args=[study.slug]), {"consent": "on"})
    participant = Participant.objects.get()
    assert len(participant.design) == 18  # 2 × min(13, 9) = 18 trials, 6 rounds of 3
    while True:
        response = client.get(reverse("quiz:round", args=[study.slug]))
        if response.status_code == 302:
            break
        round_ = participant.rounds.latest("index")
        client.post(
            reverse("quiz:submit", args=[study.slug, round_.token]), _answer_all_real(round_)
        )
    assert response["Location"] == reverse("quiz:done", args=[study.slug])
    shown = list(RoundPanel.objects.filter(round__participant=participant).values_list("image_id"))
    assert len(shown) == 18 and len(set(shown)) == 18
    kinds = "".join(
        "R" if panel.image.kind == ImageKind.REAL else "S"
        for panel in RoundPanel.objects.filter(round__participant=participant).order_by(
            "round__index", "letter"
        )
    )
    assert kinds == participant.design


def test_the_least_shown_images_are_served_first(make_study):
    study = make_study(real=20, synthetic=20, panels_per_round=10, rounds_per_session=1)
    for _ in range(6):
        open_round(start_session(study))
    for kind in (ImageKind.REAL, ImageKind.SYNTHETIC):
        times = [image.round_panels.count() for image in study.images.filter(kind=kind)]
        # Each new round takes the least-shown images first, so counts never drift apart.
        assert max(times) - min(times) <= 1, (kind, times)


def test_two_requests_for_a_new_round_share_one_round(make_study):
    study = make_study(real=12, synthetic=12)
    participant = start_session(study)
    first = open_round(participant)
    second = open_round(participant)
    assert first == second and participant.rounds.count() == 1


def test_the_summary_page_ends_the_session_with_its_score_and_completion_code(client, make_study):
    study = make_study(
        real=5, synthetic=5, panels_per_round=10, completion_code="C0DE42", feedback="score"
    )
    client.post(reverse("quiz:start", args=[study.slug]), {"consent": "on"})
    client.get(reverse("quiz:round", args=[study.slug]))
    round_ = Participant.objects.get().rounds.get()
    client.post(reverse("quiz:submit", args=[study.slug, round_.token]), _answer_all_real(round_))
    done = client.get(reverse("quiz:done", args=[study.slug])).content.decode()
    real = round_.panels.filter(image__kind=ImageKind.REAL).count()
    assert f"<strong>{real} / 10</strong>" in done
    assert "C0DE42" in done
    assert Participant.objects.get().finished_at is not None
