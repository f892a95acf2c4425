"""The one final encoding every image, real or synthetic, goes through before a browser sees it.

Same format, same mode, same compression and no metadata chunks: nothing but the pixels can tell a
real panel from a synthetic one.

Pixels are uint8 H x W (grey) or H x W x 3 (RGB, from a dataset of the generic profile). An image
is grey exactly when it is stored as H x W: a colour file whose three channels are equal everywhere
is stored grey (`canonical_channels`), so the mode itself says whether an image holds colour.
"""

import hashlib
import io
from collections.abc import Iterable

import numpy as np
from PIL import Image as PILImage

GREY, RGB = 1, 3
_PIL_MODES = {GREY: "L", RGB: "RGB"}


def channels_of(pixels: np.ndarray) -> int:
    """1 for uint8 H x W, 3 for uint8 H x W x 3; anything else is refused with its shape."""
    if pixels.dtype == np.uint8:
        if pixels.ndim == 2:
            return GREY
        if pixels.ndim == 3 and pixels.shape[2] == 3:
            return RGB
    raise ValueError(f"expected uint8 H x W or H x W x 3 pixels, got {pixels.dtype} {pixels.shape}")


def canonical_channels(pixels: np.ndarray) -> np.ndarray:
    """RGB pixels whose channels are equal everywhere become H x W; other pixels are unchanged."""
    if channels_of(pixels) == RGB:
        red = pixels[..., 0]
        if np.array_equal(red, pixels[..., 1]) and np.array_equal(red, pixels[..., 2]):
            return np.ascontiguousarray(red)
    return pixels


def encode_png(pixels: np.ndarray) -> bytes:
    """uint8 grey or RGB pixels → PNG bytes with only IHDR, IDAT and IEND chunks (stored images)."""
    return _encode(pixels, compress_level=6)


def encode_panel_png(pixels: np.ndarray) -> bytes:
    """The bytes a participant is served: PNG with stored (uncompressed) deflate blocks.

    Compressed PNG sizes follow image content, and real scans compress differently from GAN
    samples, so `Content-Length` alone told the classes apart. Stored blocks make the size a
    function of the pixel dimensions and the mode only: every panel of a study of one mode has
    the same byte length (publishing refuses a study that mixes modes unless staff accept it).
    """
    return _encode(pixels, compress_level=0)


def _encode(pixels: np.ndarray, compress_level: int) -> bytes:
    mode = _PIL_MODES[channels_of(pixels)]
    buffer = io.BytesIO()
    # Pillow writes no ancillary chunks unless given pnginfo/dpi/icc; fixed settings, no optimise
    # pass, so the encoder never varies per image.
    PILImage.fromarray(np.ascontiguousarray(pixels), mode=mode).save(
        buffer, format="PNG", compress_level=compress_level
    )
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """A canonical PNG's pixels: H x W for a grey PNG, H x W x 3 for an RGB one."""
    with PILImage.open(io.BytesIO(data)) as image:
        mode = "RGB" if image.mode == "RGB" else "L"
        return np.asarray(image.convert(mode), dtype=np.uint8).copy()


def render_panel(pixels: np.ndarray, size: int) -> np.ndarray:
    """Center-crop to a square and resize to size x size (area-averaging when shrinking)."""
    mode = _PIL_MODES[channels_of(pixels)]
    height, width = pixels.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = pixels[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(square)
    resample = PILImage.Resampling.BOX if side > size else PILImage.Resampling.LANCZOS
    resized = PILImage.fromarray(np.ascontiguousarray(square), mode=mode).resize(
        (size, size), resample=resample
    )
    return np.asarray(resized, dtype=np.uint8)


def square_stack(images: Iterable[np.ndarray], size: int) -> np.ndarray:
    """Images as uint8 [N, size, size] (grey) or [N, size, size, 3] (if any is RGB), each
    centre-cropped and resized like a panel; grey images join an RGB stack as three equal
    channels."""
    squares = [render_panel(pixels, size) for pixels in images]
    if not squares:
        return np.zeros((0, size, size), np.uint8)
    if any(square.ndim == 3 for square in squares):
        squares = [as_rgb(square) for square in squares]
    return np.stack(squares)


def as_rgb(pixels: np.ndarray) -> np.ndarray:
    """H x W x 3 pixels: grey repeated in three channels, RGB unchanged."""
    if channels_of(pixels) == RGB:
        return pixels
    return np.repeat(pixels[..., None], 3, axis=2)


def as_grey(pixels: np.ndarray) -> np.ndarray:
    """H x W luminance (ITU-R 601-2, Pillow's "L"): for checks that look at brightness only."""
    if channels_of(pixels) == GREY:
        return pixels
    return np.asarray(PILImage.fromarray(pixels, mode="RGB").convert("L"), dtype=np.uint8)


def pixel_sha256(pixels: np.ndarray) -> str:
    """Identifies an image by its pixels (and shape), whatever file it came from."""
    shape = "x".join(str(n) for n in pixels.shape)  # "HxW" for grey, as before colour; "HxWx3"
    digest = hashlib.sha256(f"{shape}:".encode())
    digest.update(np.ascontiguousarray(pixels).tobytes())
    return digest.hexdigest()
