"""Pixel helpers shared by the metrics: which image arrays they take, and how they see them.

Every metric takes uint8 [N, H, W] grey or [N, H, W, 3] RGB images, as quiz.imaging stores
pixels and ganengine.generate writes them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# ITU-R BT.601 luma weights, as Pillow's convert("L") uses them.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def check_images(images: np.ndarray, name: str) -> np.ndarray:
    """`images` if they are uint8 [N, H, W] or [N, H, W, 3], else a ValueError naming `name`."""
    if (
        not isinstance(images, np.ndarray)
        or images.dtype != np.uint8
        or images.ndim not in (3, 4)
        or (images.ndim == 4 and images.shape[3] != 3)
    ):
        shape = getattr(images, "shape", None)
        raise ValueError(
            f"{name} must be uint8 [N, H, W] (grey) or [N, H, W, 3] (RGB) images, "
            f"got {getattr(images, 'dtype', type(images).__name__)} {shape}"
        )
    return images


def check_same_kind(first: np.ndarray, second: np.ndarray, names: tuple[str, str]) -> None:
    """Two image sets must have one size and one channel count: either alone tells them apart."""
    if first.shape[1:] != second.shape[1:]:
        raise ValueError(
            f"Image sizes differ: {names[0]} {first.shape[1:]}, {names[1]} {second.shape[1:]} "
            "(grey [H, W] and RGB [H, W, 3] sets cannot be compared either)"
        )


def channels_first(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W] or [N, H, W, 3] -> float [N, C, H, W] in [0, 1] (C = 1 or 3)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float() / 255
    return x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)


def luminance(images: np.ndarray) -> np.ndarray:
    """uint8 [N, H, W] or [N, H, W, 3] -> float64 [N, H, W] in [0, 255] (grey stays as it is)."""
    if images.ndim == 3:
        return images.astype(np.float64)
    return images.astype(np.float64) @ LUMA_WEIGHTS


def downsample(x: torch.Tensor, size: int) -> torch.Tensor:
    """[N, C, H, W] -> area-averaged so the longer side is at most `size` (unchanged if it is)."""
    height, width = x.shape[-2:]
    if max(height, width) <= size:
        return x
    scale = size / max(height, width)
    target = (max(1, round(height * scale)), max(1, round(width * scale)))
    return F.interpolate(x, size=target, mode="area")
