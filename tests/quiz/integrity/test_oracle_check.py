"""Feedback that cannot be pooled into an oracle, and the publish check that measures it.

The attack of issue 17: sessions answered at random, each round's score one equation in the
truths of the images shown (recognised by their bytes), solved once enough sessions are pooled.
"""

import hashlib
import random
import re

import pytest
from django.urls import reverse

from quiz import jobs
from quiz.analysis.reports import compute_report, methods_paragraph
from quiz.analysis.trials import study_trials
from quiz.integrity.oracle_check import Equation, check, fit_truths, oracle_rule, study_oracle_check
from quiz.models import Feedback, ImageKind, LeakAudit, RoundPanel, Study

pytestmark = pytest.mark.django_db

REAL = list(range(1, 21))
SYNTHETIC = list(range(21, 41))


def _check(policy: Feedback, sessions: int = 30, **options):
    return check(
        real=REAL,
        synthetic=SYNTHETIC,
        catch=[],
        panels_per_round=10,
        rounds_per_session=4,
        policy=policy,
        sessions=sessions,
        margin=0.05,
        **options,
    )


def test_the_old_default_score_after_each_round_is_broken_within_a_few_sessions():
    result = _check(Feedback.SCORE_ONLY)
    assert result.broken
    assert result.broken_after <= 12  # the attack needed 12 sessions
    assert result.accuracy_after_all == 1.0
    assert "instead of 50%" in result.summary()


@pytest.mark.parametrize("policy", [Feedback.KEY_EACH_ROUND, Feedback.KEY_AT_END])
def test_an_answer_key_is_broken_by_a_single_session(policy):
    result = _check(policy)
    assert result.broken_after == 1
    assert result.accuracy_at_break == 1.0


@pytest.mark.parametrize("policy", [Feedback.SCORE_AT_CLOSE, Feedback.NONE])
def test_policies_that_show_nothing_while_the_study_runs_are_never_broken(policy):
    result = _check(policy, sessions=200)
    assert not result.broken
    assert result.accuracy_after_all == 0.5


def test_a_larger_margin_takes_more_sessions_to_break():
    strict = _check(Feedback.SCORE_ONLY, seed=3)
    lenient = check(
        real=REAL,
        synthetic=SYNTHETIC,
        catch=[],
        panels_per_round=10,
        rounds_per_session=4,
        policy=Feedback.SCORE_ONLY,
        sessions=30,
        margin=0.4,
        seed=3,
    )
    assert lenient.broken_after > strict.broken_after


def test_the_fit_recovers_truths_from_scores_and_leaves_unknown_images_undecided():
    truths = {1: 1.0, 2: 0.0, 3: 1.0, 4: 0.0}
    rng = random.Random(0)
    equations = []
    for _ in range(12):
        images = rng.sample([1, 2, 3, 4], 3)
        signs = [rng.choice((1, -1)) for _ in images]
        total = sum(sign * truths[image] for image, sign in zip(images, signs, strict=True))
        equations.append(Equation(tuple(images), tuple(map(float, signs)), total))
    fitted = fit_truths(equations, [1, 2, 3, 4, 5])
    assert [round(fitted[pk]) for pk in (1, 2, 3, 4)] == [1, 0, 1, 0]
    assert fitted[5] == pytest.approx(0.5)


# The publish rule ------------------------------------------------------------------------------


@pytest.mark.full_audit
def test_publishing_refuses_score_after_each_round_and_names_the_remedy(live_server, make_study):
    study = make_study(real=20, synthetic=20, feedback="score", rounds_per_session=4)
    study.is_published = False
    study.save()
    audit = LeakAudit.objects.create(study=study, publish_on_pass=True)
    jobs.run_now(audit, base_url=live_server.url, observations=200)
    audit.refresh_from_db()
    assert audit.passed is False
    problem = next(p for p in audit.report["problems"] if "Oracle check" in p)
    assert "Score when the study closes" in problem and "acknowledgement" in problem
    assert audit.report["oracle"]["broken_after"] <= 12
    # The crawl ran beside the check: its panels were clean, the policy alone fails the study.
    assert audit.report["auc"] is not None and audit.report["problems"] == [problem]
    study.refresh_from_db()
    assert not study.is_published


def test_an_acknowledged_risk_is_a_warning_and_is_printed_in_the_methods(make_study, client):
    statement = "A classroom demonstration: its figures will not be cited."
    study = make_study(
        real=20, synthetic=20, feedback="score", oracle_risk_acknowledgement=statement
    )
    problems, warnings = oracle_rule(study, study_oracle_check(study))
    assert problems == []
    assert any(statement in warning for warning in warnings)

    _take_sessions(study, sessions=1)
    methods = methods_paragraph(compute_report(list(study_trials(study)), study=study))
    assert statement in methods
    assert "saw their score after each round" in methods


def test_the_new_default_passes_the_oracle_rule(make_study):
    study = Study(feedback=Study._meta.get_field("feedback").default)
    assert study.feedback == Feedback.SCORE_AT_CLOSE
    study = make_study(real=20, synthetic=20, feedback=study.feedback)
    assert oracle_rule(study, study_oracle_check(study)) == ([], [])


def test_under_a_key_policy_the_report_says_the_truths_are_public(make_study, client):
    study = make_study(real=20, synthetic=20, feedback="key")
    _, warnings = oracle_rule(study, study_oracle_check(study))
    assert any("public after that one session" in warning for warning in warnings)
    _take_sessions(study, sessions=1)
    methods = methods_paragraph(compute_report(list(study_trials(study)), study=study))
    assert "public after one session" in methods


# The attack over the real pages ---------------------------------------------------------------

_PANEL = re.compile(r"/quiz/[\w-]+/panel/([\w-]+)\.png")
_SCORE = re.compile(r"Your score: (\d+) / (\d+)")


def _take_sessions(study, sessions: int, seed: int = 0) -> list[Equation]:
    """Sessions answered at random through the pages, each in its own browser (cookie jar), as
    a script would: the equations its result pages show.

    Images are recognised by a hash of their bytes, the attacker's only handle on them.
    """
    from django.test import Client

    rng = random.Random(seed)
    equations = []
    for _ in range(sessions):
        client = Client()
        client.post(reverse("quiz:start", args=[study.slug]), {"consent": "on"})
        while True:
            page = client.get(reverse("quiz:round", args=[study.slug]))
            if page.status_code != 200:
                break
            html = page.content.decode()
            tokens = _PANEL.findall(html)
            action = re.search(r'action="([^"]+)"', html).group(1)
            answers = {token: rng.choice(("real", "synthetic")) for token in tokens}
            images = {
                token: hashlib.sha256(
                    client.get(reverse("quiz:panel", args=[study.slug, token])).content
                ).hexdigest()
                for token in tokens
            }
            posted = client.post(action, {f"panel-{t}": a for t, a in answers.items()})
            if posted["Location"].endswith("/result/"):
                shown = _SCORE.search(client.get(posted["Location"]).content.decode())
                if shown:
                    score = int(shown.group(1))
                    signs = [1.0 if answers[t] == "real" else -1.0 for t in tokens]
                    equations.append(
                        Equation(
                            tuple(images[t] for t in tokens),
                            tuple(signs),
                            float(score - sum(s < 0 for s in signs)),
                        )
                    )
    return equations


def _truth_by_hash(study) -> dict[str, float]:
    truths = {}
    for panel in study.panels.select_related("image"):
        digest = hashlib.sha256(panel.file.read()).hexdigest()
        truths[digest] = 1.0 if panel.image.kind == ImageKind.REAL else 0.0
    return truths


def test_scores_pooled_over_the_pages_recover_every_truth_under_the_old_default(
    client, make_study, settings
):
    settings.QUIZ_START_RATE = "1000/m"
    study = make_study(real=20, synthetic=20, feedback="score", rounds_per_session=4)
    equations = _take_sessions(study, sessions=10)
    truths = _truth_by_hash(study)
    fitted = fit_truths(equations, sorted(truths))
    right = sum(round(fitted[digest]) == truth for digest, truth in truths.items())
    assert right >= 36  # of 40: the pages alone told the attacker (nearly) every truth
    assert RoundPanel.objects.filter(round__participant__study=study).exists()


def test_under_the_new_default_the_pages_show_nothing_to_pool(client, make_study, settings):
    settings.QUIZ_START_RATE = "1000/m"
    study = make_study(real=20, synthetic=20, feedback="score_at_close", rounds_per_session=4)
    assert _take_sessions(study, sessions=3) == []
