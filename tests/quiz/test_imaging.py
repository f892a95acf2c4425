import numpy as np
import pytest

from quiz.imaging import (
    as_rgb,
    canonical_channels,
    decode_png,
    encode_panel_png,
    encode_png,
    pixel_sha256,
    render_panel,
    square_stack,
)


def _chunk_types(png: bytes) -> list[bytes]:
    types, offset = [], 8
    while offset < len(png):
        length = int.from_bytes(png[offset : offset + 4], "big")
        types.append(png[offset + 4 : offset + 8])
        offset += 12 + length
    return types


def _pixels(height: int = 40, width: int = 60) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (height, width), dtype=np.uint8)


def test_encode_png_writes_no_metadata_chunks():
    assert _chunk_types(encode_png(_pixels())) == [b"IHDR", b"IDAT", b"IEND"]


def test_encode_png_round_trips_the_pixels_exactly():
    pixels = _pixels()
    assert np.array_equal(decode_png(encode_png(pixels)), pixels)


def test_encode_png_is_the_same_bytes_for_the_same_pixels():
    assert encode_png(_pixels()) == encode_png(_pixels().copy())


def test_encode_png_refuses_anything_but_uint8_grey_or_rgb():
    for pixels in (
        np.zeros((8, 8, 4), dtype=np.uint8),
        np.zeros((8, 8, 1), dtype=np.uint8),
        np.zeros((8, 8), dtype=np.uint16),
    ):
        with pytest.raises(ValueError, match="expected uint8"):
            encode_png(pixels)


def test_rgb_round_trips_in_colour_and_equal_channels_become_grey():
    colour = np.random.default_rng(3).integers(0, 256, (12, 9, 3), dtype=np.uint8)
    assert np.array_equal(decode_png(encode_png(colour)), colour)
    grey_in_rgb = np.repeat(_pixels()[..., None], 3, axis=2)
    assert np.array_equal(canonical_channels(grey_in_rgb), _pixels())
    assert canonical_channels(colour) is colour


def test_rgb_panels_of_one_size_have_one_byte_length():
    rng = np.random.default_rng(4)
    noisy = rng.integers(0, 256, (70, 50, 3), dtype=np.uint8)
    flat = np.full((90, 120, 3), 128, dtype=np.uint8)
    lengths = {len(encode_panel_png(render_panel(p, 32))) for p in (noisy, flat)}
    assert len(lengths) == 1
    assert render_panel(noisy, 32).shape == (32, 32, 3)


def test_square_stack_joins_grey_to_colour_as_equal_channels():
    colour = np.random.default_rng(5).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    stack = square_stack([_pixels(), colour], 16)
    assert stack.shape == (2, 16, 16, 3)
    assert np.array_equal(stack[0, ..., 0], stack[0, ..., 2])


def test_pixel_sha256_tells_grey_from_its_rgb_copy():
    grey = _pixels()
    assert pixel_sha256(grey) != pixel_sha256(as_rgb(grey))


@pytest.mark.parametrize("shape", [(40, 60), (60, 40), (200, 300), (20, 20)])
def test_render_panel_is_square_at_the_requested_size(shape):
    panel = render_panel(_pixels(*shape), 32)
    assert panel.shape == (32, 32)
    assert panel.dtype == np.uint8


def test_render_panel_keeps_the_centre_of_a_wide_image():
    pixels = np.zeros((10, 30), dtype=np.uint8)
    pixels[:, 10:20] = 255
    assert (render_panel(pixels, 10) == 255).all()


def test_pixel_sha256_tells_shapes_apart_with_the_same_bytes():
    pixels = _pixels(4, 6)
    assert pixel_sha256(pixels) == pixel_sha256(pixels.copy())
    assert pixel_sha256(pixels) != pixel_sha256(pixels.reshape(6, 4))
