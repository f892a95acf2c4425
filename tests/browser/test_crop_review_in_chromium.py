"""The crop review page in a real browser: a box dragged on the frame is the box that is saved."""

import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image as PILImage

from quiz.ingest.pipeline import ingest_into_dataset
from quiz.models import CropOrigin, Dataset
from tests.browser.chromium import CHROMIUM, log_in_as_staff

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.django_db(transaction=True),
]

SIDES = ("left", "top", "right", "bottom")


def _screen() -> np.ndarray:
    screen = np.zeros((200, 260), dtype=np.uint8)
    screen[20:180, 30:230] = np.random.default_rng(0).integers(20, 230, (160, 200))
    return screen


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_box_dragged_on_the_frame_is_typed_drawn_and_saved(live_server, page, django_user_model):
    dataset = Dataset.objects.create(name="muscle")
    ingest_into_dataset(dataset, [("scan.png", _png(_screen()))])
    image = dataset.images.get()
    log_in_as_staff(page, live_server.url, django_user_model)
    page.goto(f"{live_server.url}{reverse('admin:quiz_dataset_crops', args=[dataset.pk])}")

    frame = page.locator(f"#image-{image.pk} svg.crop-before")
    shown = frame.bounding_box()
    scale = shown["width"] / 260  # the frame is drawn in its own 260 x 200 pixel coordinates

    def to_screen(x: float, y: float) -> tuple[float, float]:
        return shown["x"] + x * scale, shown["y"] + y * scale

    page.mouse.move(*to_screen(60, 50))
    page.mouse.down()
    page.mouse.move(*to_screen(130, 100), steps=5)
    page.mouse.move(*to_screen(200, 150), steps=5)
    page.mouse.up()
    form = page.locator(f"#crop-form-{image.pk}")
    typed = [int(form.locator(f"input[name={side}]").input_value()) for side in SIDES]
    assert all(abs(got - want) <= 1 for got, want in zip(typed, (60, 50, 200, 150), strict=True))
    rect = frame.locator("rect.crop-box")
    assert int(rect.get_attribute("x")) == typed[0]
    assert int(rect.get_attribute("width")) == typed[2] - typed[0]

    form.get_by_role("button", name="Save box", exact=True).click()
    page.get_by_text(f"Image #{image.pk} cropped to").wait_for()
    image.refresh_from_db()
    assert (image.crop_box, image.crop_origin) == (typed, CropOrigin.ADJUSTED)
    left, top, right, bottom = typed
    assert np.array_equal(image.pixels(), _screen()[top:bottom, left:right])
