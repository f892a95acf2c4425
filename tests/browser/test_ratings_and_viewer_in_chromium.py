"""Confidence ratings and the viewer in headless Chromium: a rated grid answered by mouse and by
keyboard, the viewer enlarging a panel to its natural size and no more (and disabled in a timed
round), its open time recorded, and a grid of ten panels on a 1366 × 768 laptop screen."""

import re

import pytest
from playwright.sync_api import expect

from quiz.models import Guess, Round
from tests.browser.chromium import CHROMIUM, watch_csp

WAIT_MS = 30_000
LAPTOP = {"width": 1366, "height": 768}
NATIVE = 600  # the test images' side: panels at the 512 px cap, the viewer at 600 px

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def sized_page(browser):
    """A page factory at a given viewport; each page must break no part of the CSP."""
    contexts = []
    violations: list[str] = []

    def open_page(viewport: dict):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        violations.extend(watch_csp(page))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert violations == [], "the page broke the content security policy"


def _consent(page, live_server, study) -> None:
    page.goto(f"{live_server.url}/quiz/{study.slug}/")
    page.get_by_label("agree to take part").check()
    page.get_by_role("button", name="Start").click()
    page.locator(".panel").first.wait_for()
    hidden = page.locator(".panel:not([hidden]) .frame:not(.shown)")
    expect(hidden).to_have_count(0, timeout=WAIT_MS)


def _focused(page) -> str:
    return page.evaluate(
        "document.activeElement.getAttribute('aria-label') || document.activeElement.id"
    )


def _submitted(page, study) -> Round:
    page.get_by_role("button", name="Submit answers").click()
    page.wait_for_url(re.compile(r"/(round|result|done)/"))
    return Round.objects.get(participant__study=study, submitted_at__isnull=False)


def test_a_rated_grid_is_answered_by_mouse_and_by_keyboard(live_server, make_study, sized_page):
    study = make_study(slug="rated", rating_points=6, feedback="none")
    page = sized_page(LAPTOP)
    _consent(page, live_server, study)
    panels = page.locator(".panel")
    assert page.locator(".panel input[type=radio]:checked").count() == 0  # no default
    assert panels.first.locator(".scale-ends").inner_text().split() == [
        "certainly",
        "real",
        "certainly",
        "synthetic",
    ]
    # Panels A–E by mouse: a click on the scale's numbered box.
    wanted = {}
    for index, letter in enumerate("ABCDE"):
        rating = index + 1
        panels.nth(index).locator("label", has_text=str(rating)).click()
        wanted[letter] = rating
    # Panels F–J by keyboard: a digit on the focused panel; focus moves to the next unanswered.
    page.locator(".panel fieldset").nth(5).focus()
    for letter, key in zip("FGHIJ", "64326", strict=True):
        assert _focused(page) == f"Panel {letter}"
        page.keyboard.press(key)
        wanted[letter] = int(key)
        expect(page.locator("#announcer")).to_contain_text(f"{letter}: {key} of 6")
    assert _focused(page) == "submit-round"
    round_ = _submitted(page, study)
    guesses = {g.panel.letter: g for g in Guess.objects.filter(panel__round=round_)}
    assert {letter: g.rating for letter, g in guesses.items()} == wanted
    for guess in guesses.values():
        assert guess.answer == ("real" if guess.rating <= 3 else "synthetic")
        assert guess.response_ms is not None


def test_the_viewer_enlarges_to_the_native_size_and_no_more(live_server, make_study, sized_page):
    study = make_study(slug="viewer", real=12, synthetic=12, size=NATIVE, feedback="none")
    # A tall window: room for more than the native size, which must not be used.
    page = sized_page({"width": 1600, "height": 1100})
    _consent(page, live_server, study)
    grid_side = page.locator(".panel img").first.bounding_box()["width"]
    assert grid_side < NATIVE

    page.locator(".panel img").first.click()
    dialog = page.locator("#viewer")
    expect(dialog).to_be_visible()
    image = page.locator("#viewer-image")
    expect(page.locator("#viewer-stage.ready")).to_be_attached(timeout=WAIT_MS)
    natural = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert natural == [NATIVE, NATIVE]
    box = image.bounding_box()
    assert box["width"] == pytest.approx(NATIVE, abs=0.5)
    assert box["height"] == pytest.approx(NATIVE, abs=0.5)

    # Zoom: larger than native only when asked, and panned within the stage.
    page.get_by_role("button", name="Zoom in").click()
    assert image.bounding_box()["width"] == pytest.approx(NATIVE * 1.5, abs=0.5)
    stage = page.locator("#viewer-stage").bounding_box()
    assert stage["width"] == pytest.approx(NATIVE, abs=0.5)
    page.keyboard.press("ArrowLeft")  # pans; the image never leaves a gap in the stage
    after = image.bounding_box()
    assert after["x"] <= stage["x"] + 0.5 and after["y"] <= stage["y"] + 0.5
    page.get_by_label("Contrast").fill("200")
    assert "contrast(200%)" in image.evaluate("img => img.style.filter")
    page.wait_for_timeout(300)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert _focused(page) == "Panel A"

    # A small window: the viewer shrinks to fit, never beyond the natural size.
    page.set_viewport_size({"width": 700, "height": 560})
    page.keyboard.press("Enter")  # Enter on the focused panel opens it
    expect(page.locator("#viewer-stage.ready")).to_be_attached(timeout=WAIT_MS)
    assert image.bounding_box()["width"] < NATIVE
    assert image.bounding_box()["height"] <= 560
    page.keyboard.press("Escape")
    page.set_viewport_size({"width": 1600, "height": 1100})

    for panel in page.locator(".panel").all():
        panel.get_by_label("Real", exact=True).check()
    round_ = _submitted(page, study)
    times = dict(
        Guess.objects.filter(panel__round=round_).values_list("panel__letter", "viewer_ms")
    )
    assert times.pop("A") >= 300
    assert set(times.values()) == {None}


def test_a_timed_round_has_no_viewer(live_server, make_study, sized_page):
    study = make_study(slug="timed-viewer", exposure_ms=2000, feedback="none")
    page = sized_page(LAPTOP)
    _consent(page, live_server, study)
    assert page.locator("#viewer").count() == 0
    page.locator(".panel img").first.click()
    page.locator(".panel fieldset").first.focus()
    page.keyboard.press("Enter")
    assert page.locator("dialog[open]").count() == 0


@pytest.mark.parametrize("rating_points", [None, 10])
def test_ten_panels_fit_a_laptop_screen(live_server, make_study, sized_page, rating_points):
    study = make_study(
        slug=f"laptop-{rating_points}", size=NATIVE, feedback="none", rating_points=rating_points
    )
    page = sized_page(LAPTOP)
    _consent(page, live_server, study)
    assert page.evaluate("window.scrollY") == 0
    boxes = [panel.bounding_box() for panel in page.locator(".panel").all()]
    assert len(boxes) == 10
    for box in boxes:
        assert box["x"] >= 0 and box["y"] >= 0
        assert box["x"] + box["width"] <= LAPTOP["width"]
        assert box["y"] + box["height"] <= LAPTOP["height"], boxes
    # All ten at one size, and each image square.
    sides = {round(img.bounding_box()["width"]) for img in page.locator(".panel img").all()}
    assert len(sides) == 1
