"""HYPE-time: each participant's exposure adapts by a 3-down/1-up staircase, server-side."""

import numpy as np
import pytest
from django.urls import reverse

from quiz.analysis.reports import compute_report
from quiz.analysis.stats.hype_time import threshold
from quiz.analysis.trials import study_trials, trial_rows
from quiz.models import Generator, ImageKind, Layout, Round
from quiz.studies.staircase import LADDER_MS, walk
from tests.participant_requests import answers_for, consent, round_page

pytestmark = pytest.mark.django_db
TOP, BOTTOM = LADDER_MS[-1], LADDER_MS[0]


def test_the_ladder_runs_from_100_to_1000_ms_in_log_steps():
    assert LADDER_MS[0] == 100 and LADDER_MS[-1] == 1000 and len(LADDER_MS) == 10
    ratios = [b / a for a, b in zip(LADDER_MS, LADDER_MS[1:], strict=False)]
    assert max(ratios) - min(ratios) < 0.02  # equal ratios: logarithmic spacing


def test_three_right_make_it_shorter_one_wrong_longer():
    assert walk([]).exposure_ms == TOP
    assert walk([True, True]).exposure_ms == TOP
    assert walk([True, True, True]).exposure_ms == LADDER_MS[-2]
    assert walk([True] * 6).exposure_ms == LADDER_MS[-3]
    # A wrong answer takes one step up and starts the run of right answers again.
    assert walk([True] * 6 + [False]).exposure_ms == LADDER_MS[-2]
    assert walk([True] * 6 + [True, True, False, True, True]).exposure_ms == LADDER_MS[-2]


def test_the_ends_of_the_ladder_hold_and_are_no_reversal():
    at_top = walk([False, False, True, True, True])
    assert at_top.exposure_ms == LADDER_MS[-2] and at_top.reversals == []
    at_bottom = walk([True] * 60)
    assert at_bottom.exposure_ms == BOTTOM and at_bottom.reversals == []


def test_reversals_are_changes_of_direction():
    staircase = walk([True] * 6 + [False] + [True] * 3 + [False])
    # Steps: down, down, up, down, up. A reversal is recorded at the exposure it turned at:
    # 599 ms (down to up), 774 ms (up to down), 599 ms (down to up).
    assert staircase.exposures[:7] == [TOP] * 3 + [LADDER_MS[-2]] * 3 + [LADDER_MS[-3]]
    assert staircase.reversals == [LADDER_MS[-3], LADDER_MS[-2], LADDER_MS[-3]]


def _answer(client, study, round_, correct: bool):
    data = answers_for(round_, correct=correct)
    # The browser cannot set the next exposure: anything it sends about it is ignored.
    data["exposure_limit_ms"] = "5"
    return client.post(reverse("quiz:submit", args=[study.slug, round_.token]), data)


def test_scripted_answers_drive_interleaved_staircases_through_the_client(client, make_study):
    study = make_study(
        real=30,
        synthetic=30,
        generators=2,
        layout=Layout.SINGLE,
        panels_per_round=1,
        rounds_per_session=24,
        adaptive_exposure=True,
        feedback="none",
    )
    consent(client, study)
    script = [True, True, True, True, True, True, False, True, True, True, True, False] * 2
    answers: dict[int | None, list[bool]] = {}
    for correct in script:
        round_, page = round_page(client, study)
        staircase = round_.staircase_id
        assert staircase is not None
        if round_.panels.get().image.kind == ImageKind.REAL:
            # A real trial joins the staircase with the fewest trials so far; a synthetic one
            # its generator's (how many of each a session holds is drawn at random).
            fewest = min(len(answers.get(other, [])) for other in _generator_pks(study))
            assert len(answers.get(staircase, [])) == fewest
        expected = walk(answers.get(staircase, [])).exposure_ms
        assert round_.exposure_limit_ms == expected
        assert f'data-exposure-ms="{expected}"' in page
        assert _answer(client, study, round_, correct).status_code == 302
        answers.setdefault(staircase, []).append(correct)
    # One staircase per generator, interleaved.
    assert set(answers) == set(_generator_pks(study))
    assert all(
        Round.objects.filter(staircase_id=s).values("exposure_limit_ms").distinct().count() > 1
        for s in answers
    )
    rows = list(trial_rows(study))
    assert {row["staircase"] for row in rows} == {g for g in _generator_names(study)}

    report = compute_report(list(study_trials(study)), study=study)
    hype = report["hype_time"]
    names = dict(Generator.objects.filter(pk__in=answers).values_list("pk", "name"))
    assert len(hype["by_generator"]) == 2
    for entry in hype["by_generator"]:
        staircase = next(pk for pk, name in names.items() if name == entry["generator"])
        # The staircase's modal exposure (ties: their mean), as the rule presented them.
        expected = threshold(np.array(walk(answers[staircase]).exposures))
        assert entry["participants"] == 1 and entry["estimate_ms"] == pytest.approx(expected)
        assert entry["ci95_ms"] is None  # one participant: no interval
    assert {row["generator"]: row["hype_time"] for row in report["by_generator"]}


def _generator_pks(study):
    return set(Generator.objects.filter(images__studies=study).values_list("pk", flat=True))


def _generator_names(study):
    return set(Generator.objects.filter(images__studies=study).values_list("name", flat=True))


def test_adaptive_exposure_needs_one_trial_per_round(make_study):
    from quiz.studies.rules import protocol_problems

    study = make_study(adaptive_exposure=True, panels_per_round=4)
    assert any("one trial" in problem for problem in protocol_problems(study))
    study.layout, study.panels_per_round = Layout.PAIR, 2
    assert not protocol_problems(study)


def test_the_oracle_check_counts_the_staircase_as_a_key():
    from quiz.integrity.oracle_check import check
    from quiz.models import Feedback

    result = check(
        real=list(range(30)),
        synthetic=list(range(30, 60)),
        catch=[],
        panels_per_round=1,
        rounds_per_session=None,
        policy=Feedback.NONE,
        sessions=3,
        margin=0.05,
        adaptive=True,
    )
    assert result.broken_after == 1
