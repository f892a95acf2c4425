"""A participant takes the quiz in headless Chromium: consent, ten clicks, submit, answer key."""

import re
from pathlib import Path

import pytest

from quiz.models import Guess, ImageKind

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread, which makes Django refuse ORM calls
    # from the test body; they are synchronous all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        page = browser.new_page()
        yield page
        browser.close()


def test_a_participant_answers_ten_panels_and_sees_the_answer_key(live_server, make_study, page):
    study = make_study(slug="browser")
    page.goto(f"{live_server.url}/quiz/{study.slug}/")
    page.get_by_label("agree to take part").check()
    page.get_by_label("Your role").select_option("researcher")
    page.get_by_role("button", name="Start").click()

    panels = page.locator(".panel")
    panels.first.wait_for()
    assert panels.count() == 10
    # Every panel image really decoded in the browser, all at the same size.
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.panel img')).every(i => i.complete)"
    )
    sizes = page.eval_on_selector_all(
        ".panel img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert sizes == [[True, study.panel_size, study.panel_size]] * 10

    clicked = {}
    for index, letter in enumerate("ABCDEFGHIJ"):
        answer = "Real" if index % 3 == 0 else "Synthetic"
        panels.nth(index).get_by_label(answer).check()
        clicked[letter] = answer.lower()
    page.get_by_role("button", name="Submit answers").click()

    key = page.locator(".answer-key")
    key.wait_for()
    guesses = Guess.objects.select_related("panel__image").order_by("panel__letter")
    assert {g.panel.letter: g.answer for g in guesses} == clicked
    assert all(g.response_ms is not None and g.response_ms >= 0 for g in guesses)
    real = ", ".join(g.panel.letter for g in guesses if g.panel.image.kind == ImageKind.REAL)
    synthetic = ", ".join(
        g.panel.letter for g in guesses if g.panel.image.kind == ImageKind.SYNTHETIC
    )
    assert re.sub(r"\s+", " ", key.inner_text()).strip() == f"Real: {real} Synthetic: {synthetic}"
    score = sum(g.correct for g in guesses)
    assert page.get_by_role("heading", level=1).inner_text() == f"Your score: {score} / 10"

    page.goto(f"{live_server.url}/stats/{study.slug}/")
    page.get_by_role("heading", level=1).wait_for()
    assert page.locator("[data-stat=trials]").inner_text() == "10"
    assert page.locator("svg").count() >= 1


def test_submitting_with_a_panel_unanswered_names_it(live_server, make_study, page):
    study = make_study(slug="unanswered")
    page.goto(f"{live_server.url}/quiz/{study.slug}/")
    page.get_by_label("agree to take part").check()
    page.get_by_role("button", name="Start").click()
    panels = page.locator(".panel")
    panels.first.wait_for()
    for index in range(9):
        panels.nth(index).get_by_label("Real").check()
    page.get_by_role("button", name="Submit answers").click()
    assert "J is unanswered" in page.get_by_role("alert").inner_text()
    assert Guess.objects.count() == 0
