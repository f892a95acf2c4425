"""What ingest stores for each kind of field: the whole field with its mask, and a panel region
that holds only tissue, the same geometry for the panels of both classes."""

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from quiz.imaging import decode_png
from quiz.ingest.pipeline import ingest_into_dataset
from quiz.models import Dataset, Image
from tests.phantoms import scanner_screen

pytestmark = pytest.mark.django_db


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _ingest(name: str, frame: np.ndarray) -> Image:
    dataset = Dataset.objects.create(name=name)
    report = ingest_into_dataset(dataset, [(f"{name}.png", _png(frame))])
    assert report.imported == 1, report
    return dataset.images.get()


def _extent(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return columns[0], rows[0], columns[-1] + 1, rows[-1] + 1


def test_a_sector_scan_is_stored_at_its_full_width_with_its_mask():
    phantom = scanner_screen(3, shape="sector")
    image = _ingest("sector", phantom.frames[0])
    left, top, right, bottom = _extent(phantom.field)
    assert image.field_shape == "sector"
    assert image.width >= 0.97 * (right - left), (image.width, right - left)
    with image.field_mask.open("rb") as handle:
        mask = decode_png(handle.read()) > 0
    assert mask.shape == (image.height, image.width) and not mask.all()
    stored = image.pixels()
    assert not stored[~mask].any()  # outside the field: black, whatever the screen showed
    # The panel region lies inside the field: no black corner reaches a panel.
    x0, y0, x1, y1 = image.panel_box
    assert mask[y0:y1, x0:x1].mean() > 0.995
    assert np.array_equal(image.panel_pixels(), stored[y0:y1, x0:x1])


def test_scanner_marks_over_the_field_stay_out_of_the_panel_region():
    phantom = scanner_screen(5, calipers=True)
    image = _ingest("calipers", phantom.frames[0])
    assert image.panel_box is not None and not image.flags
    crop_left, crop_top = image.crop_box[:2]
    x0, y0, x1, y1 = image.panel_box
    ui = phantom.ui[crop_top : crop_top + image.height, crop_left : crop_left + image.width]
    assert ui[y0:y1, x0:x1].sum() <= 3  # at most a stray pixel of a mark's antialiased edge
    assert (x1 - x0) * (y1 - y0) >= 0.5 * image.width * image.height


def test_a_colour_doppler_frame_is_flagged_and_kept_out_of_the_split():
    phantom = scanner_screen(7, doppler=True)
    image = _ingest("doppler", phantom.frames[0])
    assert [flag["code"] for flag in image.flags] == ["colour-flow"]
    assert "saturated colour" in image.flags[0]["reason"]
    assert image.split == "" and not image.is_usable
