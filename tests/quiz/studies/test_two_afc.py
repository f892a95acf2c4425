"""Two-alternative forced choice: pairs of one real and one synthetic image, side by side."""

import random
from collections import Counter

import numpy as np
import pytest
from django.urls import reverse

from quiz.analysis.trials import trial_rows
from quiz.integrity.leak_audit import crawl
from quiz.integrity.oracle_check import check
from quiz.models import Feedback, Guess, ImageKind, Layout, Participant, Round, RoundPanel
from quiz.studies.design import (
    CATCH,
    REAL,
    SYNTHETIC,
    DesignError,
    paired_session_design,
    session_length,
)
from tests.participant_requests import consent, round_page

pytestmark = pytest.mark.django_db


def _pairs(design: str) -> list[str]:
    return [design[i : i + 2] for i in range(0, len(design), 2)]


@pytest.mark.parametrize("test_pairs, catch", [(10, 0), (9, 0), (7, 2), (12, 3)])
def test_every_pair_holds_one_real_image_and_the_sides_are_balanced(test_pairs, catch):
    pairs = test_pairs + catch
    for seed in range(40):
        design = paired_session_design(
            2, pairs, pairs, test_pairs, catch, np.random.default_rng(seed)
        )
        kinds = _pairs(design)
        assert all(pair.count(REAL) == 1 for pair in kinds)  # "CR", "RS": one real each
        assert Counter(pair.replace(REAL, "") for pair in kinds) == Counter(
            {SYNTHETIC: test_pairs, **({CATCH: catch} if catch else {})}
        )
        for kind, count in ((SYNTHETIC, test_pairs), (CATCH, catch)):
            left = sum(pair == kind + REAL for pair in kinds)
            assert abs(2 * left - count) <= 1  # ⌊count/2⌋ or ⌈count/2⌉ on the left


def test_the_odd_pair_is_left_or_right_by_chance():
    lefts = Counter(
        _pairs(paired_session_design(2, 5, 5, 5, 0, np.random.default_rng(seed))).count("SR")
        for seed in range(200)
    )
    assert set(lefts) == {2, 3} and min(lefts.values()) > 60


def test_paired_sessions_need_even_rounds_and_a_real_image_per_pair():
    assert session_length(4, 6, 6, 0, paired=True) == 3
    assert session_length(4, 6, 4, 2, paired=True) == 3  # 6 pairs: 4 test + 2 catch
    with pytest.raises(DesignError, match="even"):
        session_length(3, 6, 6, 0, paired=True)
    with pytest.raises(DesignError, match="real images"):
        session_length(4, 6, 6, 0, rounds=4, paired=True)


def _answer_pairs(client, study, round_: Round, *, choose_real: list[bool]):
    panels = list(round_.panels.select_related("image"))
    data = {}
    for number in sorted({panel.pair for panel in panels}):
        members = [panel for panel in panels if panel.pair == number]
        real = next(p for p in members if p.image.kind == ImageKind.REAL)
        other = next(p for p in members if p is not real)
        chosen = real if choose_real[number] else other
        data[f"pair-{number + 1}"] = chosen.token
        for panel in members:
            data[f"time-{panel.token}"] = "900"
    return client.post(reverse("quiz:submit", args=[study.slug, round_.token]), data)


def test_a_session_of_pairs_through_the_test_client(client, make_study):
    study = make_study(
        real=12,
        synthetic=12,
        generators=2,
        layout=Layout.PAIR,
        panels_per_round=4,
        feedback=Feedback.NONE,
    )
    consent(client, study)
    participant = Participant.objects.get()
    assert len(participant.design) == 24  # 12 pairs: every real image once
    rng = random.Random(3)
    chosen_real = []
    for number in range(6):
        round_, page = round_page(client, study)
        assert "Which one is real?" in page and 'data-layout="pair"' in page
        assert page.count('type="radio" name="pair-1"') == 2
        assert page.count('type="radio" name="pair-2"') == 2
        panels = list(round_.panels.select_related("image"))
        assert [panel.pair for panel in panels] == [0, 0, 1, 1]
        # The design's letters, in display order (left, right), are what the round shows.
        kinds = "".join("R" if p.image.kind == ImageKind.REAL else "S" for p in panels)
        assert kinds == participant.design[4 * number : 4 * number + 4]
        choices = [rng.random() < 0.5 for _ in range(2)]
        chosen_real += choices
        response = _answer_pairs(client, study, round_, choose_real=choices)
        assert response.status_code == 302
    participant.refresh_from_db()
    assert participant.finished_at is not None

    # One trial per pair: a Guess on the chosen panel only.
    guesses = list(Guess.objects.select_related("panel__image").order_by("panel__round__index"))
    assert len(guesses) == 12
    assert all(guess.answer == "real" for guess in guesses)
    assert [guess.correct for guess in guesses] == chosen_real
    assert RoundPanel.objects.filter(guess__isnull=True).count() == 12
    # Each generator equally often, each side equally often, over the session.
    generators = Counter(
        panel.image.generator_id
        for panel in RoundPanel.objects.select_related("image")
        if panel.image.kind == ImageKind.SYNTHETIC
    )
    assert sorted(generators.values()) == [6, 6]

    rows = list(trial_rows(study))
    assert len(rows) == 12
    assert Counter(row["synthetic_side"] for row in rows) == {"left": 6, "right": 6}
    for row, correct in zip(rows, chosen_real, strict=True):
        assert row["layout"] == "pair" and row["pair"] in (1, 2)
        assert row["true_label"] == "synthetic" and row["paired_image"] != row["image"]
        assert row["correct"] == int(correct)
        assert row["answer"] == ("synthetic" if correct else "real")
        assert (row["chosen_side"] == row["synthetic_side"]) == (not correct)
        assert row["response_ms"] == 900


def test_a_pair_left_unanswered_or_a_forged_pair_is_refused(client, make_study):
    study = make_study(layout=Layout.PAIR, panels_per_round=4)
    consent(client, study)
    round_, _ = round_page(client, study)
    first = round_.panels.get(letter="A")
    url = reverse("quiz:submit", args=[study.slug, round_.token])
    response = client.post(url, {"pair-1": first.token})
    assert response.status_code == 400
    assert "pair 2 is unanswered" in response.content.decode()
    # A token of the other pair is no choice in pair 1.
    third = round_.panels.get(letter="C")
    response = client.post(url, {"pair-1": third.token, "pair-2": third.token})
    assert response.status_code == 400
    response = client.post(url, {"pair-1": first.token, "pair-2": third.token, "pair-9": "x"})
    assert response.status_code == 400
    assert not Guess.objects.exists()


def test_the_result_page_shows_the_key_of_each_pair(client, make_study):
    study = make_study(layout=Layout.PAIR, panels_per_round=4, feedback=Feedback.KEY_EACH_ROUND)
    consent(client, study)
    round_, _ = round_page(client, study)
    response = _answer_pairs(client, study, round_, choose_real=[True, False])
    page = client.get(response.url).content.decode()
    assert "Your score: 1 / 2" in page
    assert page.count('<span class="ok">') == 1 and page.count('<span class="bad">') == 1


def test_the_leak_audit_form_filler_answers_a_pair_round(client, make_study):
    study = make_study(layout=Layout.PAIR, panels_per_round=4)
    consent(client, study)
    round_, page = round_page(client, study)
    form = next(f for f in crawl._PageParser(page).forms if f["attrs"].get("id") == "round-form")
    data = crawl._fill(form, random.Random(0))
    tokens = set(round_.panels.values_list("token", flat=True))
    assert {data["pair-1"], data["pair-2"]} <= tokens
    assert client.post(form["attrs"]["action"], data).status_code == 302
    assert Guess.objects.count() == 2


def test_publishing_refuses_an_odd_number_of_panels_side_by_side(make_study):
    from quiz.studies.rules import protocol_problems

    study = make_study(layout=Layout.PAIR, panels_per_round=5)
    assert any("must be even" in problem for problem in protocol_problems(study))


@pytest.mark.parametrize("policy", [Feedback.NONE, Feedback.KEY_EACH_ROUND])
def test_the_oracle_check_plays_pair_sessions(policy):
    result = check(
        real=list(range(40)),
        synthetic=list(range(40, 80)),
        catch=[],
        panels_per_round=4,
        rounds_per_session=None,
        policy=policy,
        sessions=6,
        margin=0.05,
        paired=True,
    )
    if policy == Feedback.NONE:
        assert not result.broken and result.accuracy_after_all == 0.5
    else:  # one session's key names the truth of all 80 images: a fresh session is perfect
        assert result.broken_after == 1 and result.accuracy_after_all == 1.0


def test_the_statistics_page_json_and_methods_of_a_pair_study(client, make_study):
    from quiz.analysis.reports import methods_paragraph

    study = make_study(
        layout=Layout.PAIR, panels_per_round=4, rounds_per_session=2, results_public=True
    )
    for participant in range(3):
        client.cookies.clear()
        consent(client, study)
        for number in range(2):
            round_, _ = round_page(client, study)
            _answer_pairs(client, study, round_, choose_real=[participant > 0, number == 0])
    page = client.get(reverse("quiz:stats", args=[study.slug]))
    assert page.status_code == 200
    report = client.get(reverse("quiz:report_json", args=[study.slug])).json()
    assert report["task"] == "2afc" and report["trials"] == 12
    assert report["criterion"]["estimate"] is None
    assert report["side_bias"]["trials"] == 12
    text = methods_paragraph(report)
    assert "side by side" in text and "√2·z(PC)" in text


def test_publishing_refuses_a_rating_scale_side_by_side(make_study):
    from quiz.studies.rules import protocol_problems

    # A pair is answered by a choice: a rating scale per image has nothing to rate there.
    paired = make_study(layout=Layout.PAIR, panels_per_round=4, rating_points=6)
    problems = [p for p in protocol_problems(paired) if "not offered side by side" in p]
    assert len(problems) == 1 and "6-point" in problems[0]
    rated_grid = make_study(slug="grid", rating_points=6)
    assert not any("side by side" in problem for problem in protocol_problems(rated_grid))


def test_a_pair_round_has_no_viewer(client, make_study):
    study = make_study(layout=Layout.PAIR, panels_per_round=4)
    consent(client, study)
    round_, page = round_page(client, study)
    # A click on an image chooses it: no enlargement, no viewer field, no viewer rendition.
    assert "data-viewer" not in page and 'id="viewer"' not in page and "viewer-" not in page
    first, third = round_.panels.get(letter="A"), round_.panels.get(letter="C")
    full = reverse("quiz:panel_full", args=[study.slug, first.token])
    assert client.get(full).status_code == 404
    assert client.get(reverse("quiz:panel", args=[study.slug, first.token])).status_code == 200
    url = reverse("quiz:submit", args=[study.slug, round_.token])
    data = {"pair-1": first.token, "pair-2": third.token, f"viewer-{first.token}": "100"}
    response = client.post(url, data)
    assert response.status_code == 400
    assert "side-by-side rounds have no viewer" in response.content.decode()
    assert not Guess.objects.exists()
    del data[f"viewer-{first.token}"]
    assert client.post(url, data).status_code == 302
    rows = list(trial_rows(study))
    assert len(rows) == 2
    assert all(row["rating"] is None and row["viewer_ms"] is None for row in rows)
    assert all(row["rating_points"] is None for row in rows)
