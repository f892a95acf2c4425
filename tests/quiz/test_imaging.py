import numpy as np
import pytest

from quiz.imaging import decode_png, encode_png, pixel_sha256, render_panel


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


def test_encode_png_refuses_anything_but_uint8_grayscale():
    with pytest.raises(ValueError):
        encode_png(np.zeros((8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError):
        encode_png(np.zeros((8, 8), dtype=np.uint16))


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
