"""The study builder screen in a real browser: from the study list to a created study."""

import os

import pytest
from django.urls import reverse

from quiz.models import Study
from tests.browser.chromium import CHROMIUM, log_in_as_staff
from tests.study_sources import World

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.django_db(transaction=True),
]


def test_staff_preview_the_plan_then_create_the_study(live_server, page, django_user_model):
    world = World()
    log_in_as_staff(page, live_server.url, django_user_model)
    page.goto(f"{live_server.url}{reverse('admin:quiz_study_changelist')}")
    page.get_by_role("link", name="Build a study").click()

    page.get_by_label("Name").fill("Two GANs")
    page.get_by_label("Real images from").select_option(label="muscle")
    page.get_by_label("FastGAN 1").check()
    page.get_by_label("StyleGAN elsewhere").check()
    page.get_by_label("Images per generator").fill("6")
    page.get_by_role("button", name="Preview the plan").click()

    refused = page.locator("#plan-refused")
    refused.wait_for()
    assert (
        f"real #{world.held_out[0].pk} held out · held0.png: "
        "was in the training set of run “FastGAN 1”" in (refused.inner_text())
    )
    assert (
        "6 image(s) of generator “StyleGAN elsewhere”" in page.locator("#study-plan").inner_text()
    )
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['SCREENSHOTS']}/study-builder.png", full_page=True)
    page.get_by_role("button", name="Create the study").click()

    page.get_by_text("Created Two GANs with 9 real images and 6 from each of 2").wait_for()
    study = Study.objects.get(slug="two-gans")
    assert study.images.count() == 9 + 12
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['SCREENSHOTS']}/study-page.png", full_page=True)
