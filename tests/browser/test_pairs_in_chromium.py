"""A side-by-side (2AFC) round in headless Chromium: two panels next to each other, answered by
a click on the image chosen as real."""

import pytest
from playwright.sync_api import expect

from quiz.models import Guess, ImageKind, Layout, Round
from tests.browser.chromium import CHROMIUM

WAIT_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


def test_a_pair_round_shows_two_panels_side_by_side_and_a_click_answers(
    page, live_server, make_study
):
    study = make_study(
        layout=Layout.PAIR, panels_per_round=4, rounds_per_session=1, feedback="none"
    )
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/quiz/{study.slug}/")
    page.get_by_label("agree to take part").check()
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_text("Which one is real?").first).to_be_visible()
    round_ = Round.objects.get()
    panels = {panel.letter: panel for panel in round_.panels.select_related("image")}
    chosen = []
    for number in (1, 2):
        pair = page.locator(".panel.pair:not([hidden])")
        expect(pair).to_have_count(1)
        expect(page.locator("#panel-progress")).to_have_text(f"Pair {number} of 2")
        frames = pair.locator(".frame")
        expect(frames).to_have_count(2)
        expect(pair.locator(".frame:not(.shown)")).to_have_count(0, timeout=WAIT_MS)
        left, right = frames.nth(0).bounding_box(), frames.nth(1).bounding_box()
        # Side by side: the same row, the second to the right of the first, equal sizes.
        assert abs(left["y"] - right["y"]) < 1 and right["x"] >= left["x"] + left["width"]
        assert abs(left["width"] - right["width"]) < 1
        letters = ["ABCD"[2 * (number - 1) + k] for k in (0, 1)]
        real = next(letter for letter in letters if panels[letter].image.kind == ImageKind.REAL)
        side = letters.index(real)
        frames.nth(side).click()  # a click on the image chooses it
        chosen.append(real)
    submit = page.locator("#submit-round")
    expect(submit).to_be_visible()
    submit.click()
    page.wait_for_url(f"**/quiz/{study.slug}/done/", timeout=WAIT_MS)
    guesses = Guess.objects.select_related("panel").order_by("panel__letter")
    assert [guess.panel.letter for guess in guesses] == chosen
    assert all(guess.correct and guess.response_ms is not None for guess in guesses)
