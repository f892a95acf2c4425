"""Turn image files or uint8 arrays into the training tensor: [N, C, R, R] float32 in [-1, 1].

C is 1 (grey) or 3 (RGB). Left to the data (channels=None), a set with any colour image is RGB
and a set of grey images is grey; an RGB image whose three channels are equal counts as grey,
as in the web app (quiz.imaging.canonical_channels). Asked for 3 channels, grey images are
repeated into R, G and B; asked for 1, colour images become their luma (Pillow's "L").
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
CHANNELS = (1, 3)
# Pillow modes whose images carry no colour; every other mode is converted to RGB.
_GREY_MODES = ("1", "L", "LA", "La", "P;L", "F") + ("I", "I;16", "I;16B", "I;16L", "I;16N")


class DataError(ValueError):
    """Training data that cannot be used; the message names the folder or file and the reason."""


def load_folder(path: str | Path, resolution: int, channels: int | None = None) -> torch.Tensor:
    """Load every PNG/JPEG/TIFF/BMP directly inside `path` (sorted by name, not recursive)."""
    folder = Path(path)
    if not folder.exists():
        raise DataError(f"Data folder {folder} does not exist")
    if not folder.is_dir():
        raise DataError(f"Data folder {folder} is not a folder")
    files = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if not files:
        raise DataError(f"Data folder {folder} has no images ({', '.join(IMAGE_SUFFIXES)})")
    _check_channels(channels)
    pixels = [_read(f) for f in files]
    return _stack(_square(p, resolution) for p in _with_channels(pixels, channels))


def prepare_arrays(
    arrays: Iterable[np.ndarray], resolution: int, channels: int | None = None
) -> torch.Tensor:
    """Prepare in-memory uint8 images (H x W grey, H x W x 3 RGB), e.g. decoded by the web app."""
    _check_channels(channels)
    pixels = []
    for i, array in enumerate(arrays):
        if array.dtype != np.uint8 or not (
            array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)
        ):
            raise DataError(
                f"Array {i} has dtype {array.dtype} and shape {array.shape}; "
                "expected uint8 H x W or H x W x 3"
            )
        pixels.append(array)
    if not pixels:
        raise DataError("No images given")
    return _stack(_square(p, resolution) for p in _with_channels(pixels, channels))


def channels_of_data(pixels: Iterable[np.ndarray]) -> int:
    """3 if any image is colour (H x W x 3 with unequal channels), else 1."""
    return 3 if any(_is_colour(p) for p in pixels) else 1


def _check_channels(channels: int | None) -> None:
    if channels is not None and channels not in CHANNELS:
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), not {channels!r}")


def _is_colour(pixels: np.ndarray) -> bool:
    return pixels.ndim == 3 and not (
        np.array_equal(pixels[..., 0], pixels[..., 1])
        and np.array_equal(pixels[..., 0], pixels[..., 2])
    )


def _with_channels(pixels: list[np.ndarray], channels: int | None) -> list[np.ndarray]:
    """Every image as H x W (channels 1) or H x W x 3 (channels 3); None: from the data."""
    channels = channels or channels_of_data(pixels)
    if channels == 3:
        return [p if p.ndim == 3 else np.repeat(p[..., None], 3, axis=2) for p in pixels]
    return [p if p.ndim == 2 else _grey(p) for p in pixels]


def _grey(rgb: np.ndarray) -> np.ndarray:
    if not _is_colour(rgb):
        return np.ascontiguousarray(rgb[..., 0])  # exact: no rounding through the luma weights
    return np.asarray(Image.fromarray(rgb).convert("L"))


def _read(file: Path) -> np.ndarray:
    try:
        with Image.open(file) as img:
            img.load()
            return _to_uint8(img)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"Cannot read image {file}: {exc}") from exc


def _to_uint8(img: Image.Image) -> np.ndarray:
    """uint8 H x W for a grey image, H x W x 3 for a colour one (alpha dropped)."""
    # Pillow's convert("L") clips 16-bit and float data instead of scaling it, so scale those here.
    if img.mode.startswith("I"):
        return (np.asarray(img, dtype=np.float64) / 257).clip(0, 255).round().astype(np.uint8)
    if img.mode == "F":
        values = np.asarray(img, dtype=np.float64)
        span = float(values.max() - values.min()) or 1.0
        return ((values - values.min()) / span * 255).round().astype(np.uint8)
    if img.mode in _GREY_MODES or (img.mode == "P" and _grey_palette(img)):
        return np.asarray(img.convert("L"))
    return np.asarray(img.convert("RGB"))


def _grey_palette(img: Image.Image) -> bool:
    palette = np.asarray(img.convert("RGB"))
    return not _is_colour(palette)


def _square(pixels: np.ndarray, resolution: int) -> np.ndarray:
    """Centre-crop to a square, then resize with Lanczos (antialiased when shrinking)."""
    h, w = pixels.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = Image.fromarray(pixels[top : top + side, left : left + side])
    return np.asarray(crop.resize((resolution, resolution), Image.Resampling.LANCZOS))


def _stack(squares: Iterable[np.ndarray]) -> torch.Tensor:
    batch = torch.from_numpy(np.stack(list(squares)))  # [N, R, R] or [N, R, R, 3] uint8
    batch = batch.unsqueeze(1) if batch.ndim == 3 else batch.permute(0, 3, 1, 2)
    return (batch.float() / 127.5 - 1.0).contiguous()  # [N, C, R, R] in [-1, 1]
