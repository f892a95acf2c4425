"""The content security policy in a real browser: it refuses what it should, and no page of the
site (participant or staff) needs anything it refuses."""

import pytest
from django.urls import reverse

from quiz.models import TrainingRun
from quiz.studies.rounds import display_size
from tests.browser.chromium import CHROMIUM, log_in_as_staff, watch_csp

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


def test_an_inline_script_is_refused_and_reported(live_server, make_study, browser):
    # The check every other browser test relies on: a violation is blocked and seen.
    study = make_study(slug="inline")
    context = browser.new_context()
    page = context.new_page()
    violations = watch_csp(page)
    page.goto(f"{live_server.url}/quiz/{study.slug}/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = true'; document.head.appendChild(s); }"
    )
    assert page.evaluate("window.injected === undefined")
    assert len(violations) == 1 and "script-src" in violations[0]
    context.close()


def test_the_round_page_sets_its_panel_size_under_the_nonce(live_server, make_study, page):
    # 300 px panels: the stylesheet's fallback is 256 px, so only the page's own style gives 300.
    study = make_study(slug="nonce", size=300)
    # A screen with room for two rows of 300 px panels: a smaller one shrinks them to fit.
    page.set_viewport_size({"width": 1920, "height": 1400})
    page.goto(f"{live_server.url}/quiz/{study.slug}/")
    page.get_by_label("agree to take part").check()
    page.get_by_role("button", name="Start").click()
    page.locator(".panel").first.wait_for()
    size = page.evaluate(
        "getComputedStyle(document.getElementById('round-form')).getPropertyValue('--panel-size')"
    )
    assert size.strip() == f"{display_size(study)}px" == "300px"
    width = page.locator(".panel img").first.bounding_box()["width"]
    assert width == 300


def test_the_staff_pages_break_no_part_of_the_policy(
    live_server, make_study, page, django_user_model
):
    study = make_study(slug="staff", results_public=True)
    run = TrainingRun.objects.get()
    log_in_as_staff(page, live_server.url, django_user_model)
    for url in (
        reverse("admin:quiz_dataset_changelist"),
        reverse("admin:quiz_trainingrun_change", args=[run.pk]),
        reverse("admin:quiz_study_change", args=[study.pk]),
        reverse("admin:quiz_image_changelist"),
        reverse("quiz:study_near_copies", args=[study.pk]),
        reverse("quiz:stats", args=[study.slug]),
    ):
        response = page.goto(f"{live_server.url}{url}")
        assert response.status == 200, url
        page.wait_for_load_state("load")
    # The training run's progress bar keeps its stylesheet rule (no inline style any more).
    page.goto(f"{live_server.url}{reverse('admin:quiz_trainingrun_change', args=[run.pk])}")
    bar = page.locator("#run-progress-bar").bounding_box()
    assert bar["width"] > 300
    # page's fixture fails the test on any violation these pages reported.
