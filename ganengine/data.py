"""Turn image files or uint8 arrays into the training tensor: [N, 1, R, R] float32 in [-1, 1]."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


class DataError(ValueError):
    """Training data that cannot be used; the message names the folder or file and the reason."""


def load_folder(path: str | Path, resolution: int) -> torch.Tensor:
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
    return _stack(_square(_read_gray(f), resolution) for f in files)


def prepare_arrays(arrays: Iterable[np.ndarray], resolution: int) -> torch.Tensor:
    """Prepare in-memory grayscale images (uint8, H x W), e.g. already decoded by the web app."""
    squares = []
    for i, array in enumerate(arrays):
        if array.dtype != np.uint8 or array.ndim != 2:
            raise DataError(
                f"Array {i} has dtype {array.dtype} and shape {array.shape}; expected uint8 H x W"
            )
        squares.append(_square(array, resolution))
    if not squares:
        raise DataError("No images given")
    return _stack(squares)


def _read_gray(file: Path) -> np.ndarray:
    try:
        with Image.open(file) as img:
            img.load()
            return _to_uint8_gray(img)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"Cannot read image {file}: {exc}") from exc


def _to_uint8_gray(img: Image.Image) -> np.ndarray:
    # Pillow's convert("L") clips 16-bit and float data instead of scaling it, so scale those here.
    if img.mode.startswith("I"):
        return (np.asarray(img, dtype=np.float64) / 257).clip(0, 255).round().astype(np.uint8)
    if img.mode == "F":
        values = np.asarray(img, dtype=np.float64)
        span = float(values.max() - values.min()) or 1.0
        return ((values - values.min()) / span * 255).round().astype(np.uint8)
    return np.asarray(img.convert("L"))


def _square(gray: np.ndarray, resolution: int) -> np.ndarray:
    """Centre-crop to a square, then resize with Lanczos (antialiased when shrinking)."""
    h, w = gray.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = Image.fromarray(gray[top : top + side, left : left + side])
    return np.asarray(crop.resize((resolution, resolution), Image.Resampling.LANCZOS))


def _stack(squares: Iterable[np.ndarray]) -> torch.Tensor:
    batch = torch.from_numpy(np.stack(list(squares)))  # [N, R, R] uint8
    return (batch.float() / 127.5 - 1.0).unsqueeze(1)  # [N, 1, R, R] in [-1, 1]
