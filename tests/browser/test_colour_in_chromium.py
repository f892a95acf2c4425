"""A colour study in headless Chromium: the grid's panels and the viewer's enlarged image are the
RGB pixels the study rendered, as the browser decodes them."""

import numpy as np
import pytest
from playwright.sync_api import expect

from quiz.imaging import decode_png
from quiz.models import Round, Study, StudyPanel
from quiz.studies.panels import render_study_panels
from tests.browser.chromium import CHROMIUM
from tests.quiz.studies.colour_studies import ColourWorld

WAIT_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]

# The pixels of an <img> as the browser decoded them, read back through a canvas (same origin).
_PIXELS = """img => {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0);
    return Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data);
}"""


def _rgb(rgba: list[int], side: int) -> np.ndarray:
    return np.asarray(rgba, dtype=np.uint8).reshape(side, side, 4)[..., :3]


def test_the_grid_and_the_viewer_show_the_colour_panels(db, live_server, page):
    world = ColourWorld(held_out=12, synthetic=12, size=40)
    study = Study.objects.create(name="Colour", slug="colour", feedback="none")
    study.images.set([*world.held_out, *world.synthetic])
    render_study_panels(study)
    Study.objects.filter(pk=study.pk).update(is_published=True)

    page.goto(f"{live_server.url}/quiz/{study.slug}/")
    page.get_by_label("agree to take part").check()
    page.get_by_role("button", name="Start").click()
    panel = page.locator(".panel img").first
    expect(panel).to_be_visible(timeout=WAIT_MS)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=panel.element_handle()
    )
    first = Round.objects.get(participant__study=study).panels.get(letter="A")
    stored = StudyPanel.objects.get(study=study, image_id=first.image_id)
    expected = decode_png(stored.file.open("rb").read())
    shown = _rgb(panel.evaluate(_PIXELS), study.panel_size)
    # Chromium colour-manages untagged PNGs as sRGB: on a headless sRGB screen, unchanged.
    assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 2
    assert np.ptp(shown.astype(int), axis=2).mean() > 10  # channels differ: colour, not grey

    panel.click()
    expect(page.locator("#viewer-stage.ready")).to_be_attached(timeout=WAIT_MS)
    viewer = page.locator("#viewer-image")
    full = decode_png(stored.full_file.open("rb").read())
    enlarged = _rgb(viewer.evaluate(_PIXELS), full.shape[0])
    assert np.abs(enlarged.astype(int) - full.astype(int)).max() <= 2
