"""Conversions between generator output tensors and uint8 images (grey or RGB)."""

from __future__ import annotations

import math

import numpy as np
import torch


def to_uint8(batch: torch.Tensor) -> np.ndarray:
    """[B, 1, R, R] in [-1, 1] -> uint8 [B, R, R]; [B, 3, R, R] -> uint8 [B, R, R, 3]."""
    pixels = ((batch.detach().float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    if pixels.shape[1] == 1:
        return pixels.squeeze(1).cpu().numpy()
    return pixels.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def grid(images: np.ndarray, padding: int = 2) -> np.ndarray:
    """uint8 [N, R, R] or [N, R, R, 3] -> one image of the tiles in a near-square grid on black."""
    n, r = images.shape[:2]
    columns = math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    step = r + padding
    canvas = np.zeros(
        (rows * step + padding, columns * step + padding, *images.shape[3:]), np.uint8
    )
    for i, tile in enumerate(images):
        top, left = padding + (i // columns) * step, padding + (i % columns) * step
        canvas[top : top + r, left : left + r] = tile
    return canvas
