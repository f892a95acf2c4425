"""ganengine.metrics.borders.border_lines: about 1 for images whose borders change like their
inside, clearly above 1 for a drawn frame, on real scans from ../shared/data."""

import numpy as np
import pytest
from PIL import Image

from ganengine.metrics.borders import border_lines


@pytest.fixture
def scans(muscle_images) -> np.ndarray:
    """40 scans, their centre squares at 64 px."""
    squares = []
    for path in sorted(muscle_images.iterdir())[:40]:
        with Image.open(path) as image:
            grey = image.convert("L")
            side = min(grey.size)
            left, top = (grey.width - side) // 2, (grey.height - side) // 2
            square = grey.crop((left, top, left + side, top + side))
            squares.append(np.asarray(square.resize((64, 64), Image.Resampling.BOX)))
    return np.stack(squares)


def _framed(images: np.ndarray, depth: int, value: int = 255) -> np.ndarray:
    framed = images.copy()
    framed[:, depth, :] = framed[:, -1 - depth, :] = value
    framed[:, :, depth] = framed[:, :, -1 - depth] = value
    return framed


def test_real_scans_have_no_line_and_a_drawn_frame_shows_at_its_depth(scans):
    plain = border_lines(scans)
    assert all(0.3 < figure < 1.5 for figure in plain), plain
    outermost = border_lines(_framed(scans, 0))
    assert outermost[0] > 3 * plain[0] and outermost[1] < plain[1]  # the frame is one line deep
    second = border_lines(_framed(scans, 1))
    assert second[0] > 3 * plain[0] and second[1] > 3 * plain[1]


def test_colour_is_measured_on_its_luminance(scans):
    assert border_lines(np.repeat(scans[..., None], 3, axis=3)) == pytest.approx(
        border_lines(scans)
    )


def test_flat_or_tiny_images_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="flat"):
        border_lines(np.full((3, 16, 16), 90, np.uint8))
    with pytest.raises(ValueError, match="too small"):
        border_lines(np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        border_lines(np.zeros((3, 16, 16), np.float32))
