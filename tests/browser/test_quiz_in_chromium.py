"""Participants take the quiz in headless Chromium: the mouse, the keyboard alone, one image at a
time under an exposure limit, and a phone-sized screen."""

import re

import pytest
from playwright.sync_api import expect

from quiz.models import Guess, ImageKind, Participant, Round
from quiz.studies.panels import render_study_panels
from quiz.studies.rounds import display_size
from tests.browser.chromium import CHROMIUM

KEY_ANSWERS = {"r": "real", "s": "synthetic"}
WAIT_MS = 30_000  # as long as Playwright's own waits

# Logs every reveal and hide of a panel's image as [letter, shown, time of the frame it happened
# in], from before the page's own script runs.
FRAME_LOG = """
window.frameLog = [];
new MutationObserver(function (records) {
  records.forEach(function (record) {
    const panel = record.target.closest && record.target.closest(".panel");
    if (!panel || !record.target.classList.contains("frame")) return;
    window.frameLog.push([panel.querySelector("legend").textContent,
                          record.target.classList.contains("shown"),
                          document.timeline.currentTime]);
  });
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["class"]});
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


def _consent(page, live_server, study, role: str = "", years: int | None = None) -> None:
    page.goto(f"{live_server.url}/quiz/{study.slug}/")
    page.get_by_label("agree to take part").check()
    if role:
        page.get_by_label("Your role").select_option(role)
    if years is not None:
        page.get_by_label("Years of experience").fill(str(years))
    page.get_by_role("button", name="Start").click()
    page.locator(".panel").first.wait_for()


def _wait_until_revealed(page) -> None:
    """The script reveals the images once decoded; response times count from then."""
    # Locator waits, not wait_for_function: that evaluates a string in the page, which the
    # page's content security policy refuses (no 'unsafe-eval').
    expect(page.locator(".panel:not([hidden]) .frame").first).to_be_attached()
    hidden = page.locator(".panel:not([hidden]) .frame:not(.shown)")
    expect(hidden).to_have_count(0, timeout=WAIT_MS)


def _focused(page) -> str:
    return page.evaluate(
        "document.activeElement.getAttribute('aria-label') || document.activeElement.id"
    )


def _tab_to(page, name: str) -> None:
    for _ in range(10):
        page.keyboard.press("Tab")
        if _focused(page) == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def _guesses(round_: Round) -> dict[str, Guess]:
    return {g.panel.letter: g for g in Guess.objects.filter(panel__round=round_)}


def _text(locator) -> str:
    return re.sub(r"\s+", " ", locator.inner_text()).strip()


def _study_with_practice(make_study, practice: int = 4, **settings):
    """A study with `practice` practice images, half real and half synthetic, that are not
    among its trial images."""
    study = make_study(**settings)
    real = list(study.images.filter(kind=ImageKind.REAL)[: practice // 2])
    synthetic = list(study.images.filter(kind=ImageKind.SYNTHETIC)[: practice // 2])
    study.practice_images.set(real + synthetic)
    study.images.remove(*real, *synthetic)
    render_study_panels(study)
    return study


def _keyboard_round(page, study, index: int, presses: list[str], answered: str) -> Round:
    """Answers a grid with key presses only; `answered` names the panel focused before each."""
    assert _text(page.locator("#progress")) == f"Round {index + 1} of 2"
    _wait_until_revealed(page)
    for key, letter in zip(presses, answered, strict=True):
        if key.startswith("Arrow"):
            page.keyboard.press(key)
            continue
        assert _focused(page) == f"Panel {letter}"
        page.keyboard.press(key)
        assert _text(page.locator("#announcer")) == f"{letter}: {KEY_ANSWERS[key].title()}"
    # Every panel answered: focus is on the submit button, and Enter sends the round.
    assert _focused(page) == "submit-round"
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=re.compile("Your score")).wait_for()
    return Round.objects.get(participant__study=study, is_practice=False, index=index)


def test_a_participant_walks_a_study_with_the_keyboard_and_one_at_a_time(
    live_server, make_study, page
):
    study = _study_with_practice(
        make_study,
        slug="walk",
        real=6,
        synthetic=6,
        panels_per_round=4,
        rounds_per_session=2,
        feedback="score",
    )
    page.goto(f"{live_server.url}/quiz/{study.slug}/")
    assert study.consent_text.split(".")[0] in page.locator(".consent-text").inner_text()
    _consent(page, live_server, study, role="sonographer", years=7)
    participant = Participant.objects.get(study=study)
    assert (participant.expertise, participant.years_experience) == ("sonographer", 7)

    # Practice: answered by clicking, then its key, then the study proper.
    assert _text(page.locator("#progress")) == "Practice round (not counted)"
    _wait_until_revealed(page)
    for panel in page.locator(".panel").all():
        panel.get_by_label("Real").check()
    page.get_by_role("button", name="Submit answers").click()
    page.locator(".answer-key").wait_for()
    practice = Round.objects.get(participant=participant, is_practice=True)
    real = [p.letter for p in practice.panels.all() if p.image.kind == ImageKind.REAL]
    assert page.locator("#real-letters").inner_text() == ", ".join(real)
    page.get_by_role("link", name="Start the study").click()

    # Two grids, keyboard only: Tab to panel A, then R / S; focus moves to the next unanswered
    # panel after each answer (wrapping round), and the arrows move between panels.
    page.locator(".panel").first.wait_for()
    _tab_to(page, "Panel A")
    first = _keyboard_round(page, study, 0, ["r", "s", "s", "r"], "ABCD")
    page.get_by_role("link", name="Next round").click()
    page.locator(".panel").first.wait_for()
    _tab_to(page, "Panel A")
    second = _keyboard_round(page, study, 1, ["ArrowRight", "s", "r", "s", "r"], "ABCDA")

    for round_, answers, order in ((first, "rssr", "ABCD"), (second, "rsrs", "BCDA")):
        guesses = _guesses(round_)
        assert {letter: g.answer for letter, g in guesses.items()} == {
            letter: KEY_ANSWERS[key] for letter, key in zip("ABCD", answers, strict=True)
        }
        # Measured from the reveal to each answer, so they grow in the order the keys were pressed.
        times = [guesses[letter].response_ms for letter in order]
        assert all(t is not None for t in times) and times == sorted(times)
        assert all(g.exposure_ms is None for g in guesses.values())

    page.get_by_role("link", name="Finish").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Thank you: you have finished"
    score = Guess.objects.filter(panel__round__in=[first, second], correct=True).count()
    assert f"{score} / 8" in page.locator(".session-score").inner_text()

    # A second study, one image at a time, each shown for 300 ms.
    single = make_study(
        slug="single",
        real=4,
        synthetic=4,
        layout="single",
        exposure_ms=300,
        panels_per_round=4,
        rounds_per_session=1,
        feedback="score",
    )
    page.add_init_script(FRAME_LOG)
    _consent(page, live_server, single)
    assert page.locator("#submit-round").is_hidden()
    frame_size = None
    for letter, key in zip("ABCD", "srrs", strict=True):
        visible = page.locator(".panel:not([hidden])")
        assert visible.count() == 1 and visible.locator("legend").inner_text() == letter
        assert _text(page.locator("#panel-progress")) == f"Image {'ABCD'.index(letter) + 1} of 4"
        shown = visible.locator("input[name^=shown-]")
        expect(shown).not_to_have_value("", timeout=WAIT_MS)
        # Hidden: the image is invisible, a grey frame of the same size stays in its place.
        assert visible.locator("img").evaluate("i => getComputedStyle(i).visibility") == "hidden"
        box = visible.locator(".frame").bounding_box()
        frame_size = frame_size or box["width"]
        assert box["width"] == box["height"] == frame_size == display_size(single)
        assert 300 <= int(shown.input_value()) <= 550
        assert _focused(page) == f"Panel {letter}"
        page.keyboard.press(key)
    # Each image was revealed once and hidden once, about 300 ms later.
    log = page.evaluate("window.frameLog")
    for letter in "ABCD":
        events = [(shown, t) for logged, shown, t in log if logged == letter]
        assert [shown for shown, _ in events] == [True, False]
        assert 300 <= events[1][1] - events[0][1] <= 550
    assert page.locator("#single-done").is_visible()
    assert _focused(page) == "submit-round"
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Finish").wait_for()
    guesses = _guesses(Round.objects.get(participant__study=single))
    assert {letter: g.answer for letter, g in guesses.items()} == dict(
        zip("ABCD", ["synthetic", "real", "real", "synthetic"], strict=True)
    )
    for guess in guesses.values():
        assert 300 <= guess.exposure_ms <= 300 + 250
        # Answered after the image was gone, so the response time covers the whole display.
        assert guess.response_ms >= guess.exposure_ms

    page.get_by_role("link", name="Finish").click()
    assert page.url == f"{live_server.url}/quiz/{single.slug}/done/"
    assert page.get_by_role("heading", level=1).inner_text() == "Thank you: you have finished"
    score = sum(g.correct for g in guesses.values())
    assert f"{score} / 4" in page.locator(".session-score").inner_text()


def test_with_shortcuts_switched_off_r_does_nothing(live_server, make_study, page):
    study = make_study(slug="shortcuts")
    _consent(page, live_server, study)
    _wait_until_revealed(page)
    toggle = page.get_by_label("Keyboard shortcuts (R / S)")
    assert toggle.is_checked()
    toggle.uncheck()
    panel_a = page.get_by_role("group", name="Panel A")
    checked = page.locator(".panel input[type=radio]:checked")

    panel_a.focus()
    page.keyboard.press("r")
    assert checked.count() == 0 and _focused(page) == "Panel A"

    # Remembered across pages.
    page.reload()
    _wait_until_revealed(page)
    assert not toggle.is_checked()
    panel_a.focus()
    page.keyboard.press("r")
    assert checked.count() == 0

    # The radios still work with the keyboard's standard moves.
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert panel_a.get_by_label("Real").is_checked()
    page.keyboard.press("ArrowRight")
    assert panel_a.get_by_label("Synthetic").is_checked()

    toggle.check()
    page.get_by_role("group", name="Panel B").focus()
    page.keyboard.press("s")
    assert page.get_by_role("group", name="Panel B").get_by_label("Synthetic").is_checked()
    assert _focused(page) == "Panel C"


def test_on_a_phone_every_panel_is_shown_at_the_same_size_without_sideways_scrolling(
    live_server, make_study, browser, csp_violations
):
    study = make_study(slug="phone")
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    violations = csp_violations(page)
    _consent(page, live_server, study)
    _wait_until_revealed(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    boxes = page.eval_on_selector_all(
        ".panel img",
        "imgs => imgs.map(i => { const r = i.getBoundingClientRect();"
        " return [r.left, r.width, r.height]; })",
    )
    assert len(boxes) == 10
    # One column, every image at the display size (256 px fits a 390 px screen with its margins).
    assert {tuple(box) for box in boxes} == {(boxes[0][0], 256, 256)}
    assert display_size(study) == 256
    assert violations == []
    context.close()


def test_a_participant_answers_ten_panels_and_sees_the_answer_key(live_server, make_study, page):
    # One round of the session is answered: a partial session, which this study counts.
    study = make_study(slug="browser", results_public=True, counted_sessions="finished_and_partial")
    _consent(page, live_server, study, role="researcher")

    panels = page.locator(".panel")
    assert panels.count() == 10
    # Every panel image really decoded in the browser, all at the same size.
    _wait_until_revealed(page)
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
    assert _text(key) == f"Real: {real} Synthetic: {synthetic}"
    score = sum(g.correct for g in guesses)
    assert page.get_by_role("heading", level=1).inner_text() == f"Your score: {score} / 10"

    page.goto(f"{live_server.url}/stats/{study.slug}/")
    page.get_by_role("heading", level=1).wait_for()
    assert page.locator("[data-stat=trials]").inner_text() == "10"
    assert page.locator("svg").count() >= 1


def test_submitting_with_a_panel_unanswered_names_it(live_server, make_study, page):
    study = make_study(slug="unanswered")
    _consent(page, live_server, study)
    panels = page.locator(".panel")
    for index in range(9):
        panels.nth(index).get_by_label("Real").check()
    page.get_by_role("button", name="Submit answers").click()
    assert "J is unanswered" in page.get_by_role("alert").inner_text()
    assert Guess.objects.count() == 0
