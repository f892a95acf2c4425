"""Conversions between generator output tensors and uint8 images."""

from __future__ import annotations

import math

import numpy as np
import torch


def to_uint8(batch: torch.Tensor) -> np.ndarray:
    """[B, 1, R, R] in [-1, 1] -> uint8 [B, R, R]."""
    pixels = ((batch.detach().float() + 1.0) * 127.5).round().clamp(0, 255)
    return pixels.squeeze(1).to(torch.uint8).cpu().numpy()


def grid(images: np.ndarray, padding: int = 2) -> np.ndarray:
    """uint8 [N, R, R] -> one uint8 image with the N tiles in a near-square grid on black."""
    n, r, _ = images.shape
    columns = math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    step = r + padding
    canvas = np.zeros((rows * step + padding, columns * step + padding), dtype=np.uint8)
    for i, tile in enumerate(images):
        top, left = padding + (i // columns) * step, padding + (i % columns) * step
        canvas[top : top + r, left : left + r] = tile
    return canvas
