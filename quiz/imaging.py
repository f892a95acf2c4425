"""The one final encoding every image, real or synthetic, goes through before a browser sees it.

Same format, same mode, same compression and no metadata chunks: nothing but the pixels can tell a
real panel from a synthetic one.
"""

import hashlib
import io
from collections.abc import Iterable

import numpy as np
from PIL import Image as PILImage


def encode_png(pixels: np.ndarray) -> bytes:
    """uint8 H x W grayscale → PNG bytes with only IHDR, IDAT and IEND chunks (stored images)."""
    return _encode(pixels, compress_level=6)


def encode_panel_png(pixels: np.ndarray) -> bytes:
    """The bytes a participant is served: PNG with stored (uncompressed) deflate blocks.

    Compressed PNG sizes follow image content, and real scans compress differently from GAN
    samples, so `Content-Length` alone told the classes apart. Stored blocks make the size a
    function of the pixel dimensions only: every panel of a study has the same byte length.
    """
    return _encode(pixels, compress_level=0)


def _encode(pixels: np.ndarray, compress_level: int) -> bytes:
    if pixels.dtype != np.uint8 or pixels.ndim != 2:
        raise ValueError(f"expected uint8 H x W pixels, got {pixels.dtype} {pixels.shape}")
    buffer = io.BytesIO()
    # Pillow writes no ancillary chunks unless given pnginfo/dpi/icc; fixed settings, no optimise
    # pass, so the encoder never varies per image.
    PILImage.fromarray(pixels, mode="L").save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    with PILImage.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8).copy()


def render_panel(pixels: np.ndarray, size: int) -> np.ndarray:
    """Center-crop to a square and resize to size x size (area-averaging when shrinking)."""
    height, width = pixels.shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = pixels[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(square)
    resample = PILImage.Resampling.BOX if side > size else PILImage.Resampling.LANCZOS
    resized = PILImage.fromarray(square, mode="L").resize((size, size), resample=resample)
    return np.asarray(resized, dtype=np.uint8)


def square_stack(images: Iterable[np.ndarray], size: int) -> np.ndarray:
    """Images as uint8 [N, size, size], each centre-cropped and resized like a panel."""
    squares = [render_panel(pixels, size) for pixels in images]
    return np.stack(squares) if squares else np.zeros((0, size, size), np.uint8)


def pixel_sha256(pixels: np.ndarray) -> str:
    """Identifies an image by its pixels (and shape), whatever file it came from."""
    digest = hashlib.sha256(f"{pixels.shape[0]}x{pixels.shape[1]}:".encode())
    digest.update(np.ascontiguousarray(pixels).tobytes())
    return digest.hexdigest()
