"""Pixel helpers shared by the metrics."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def downsample(x: torch.Tensor, size: int) -> torch.Tensor:
    """[N, C, H, W] -> area-averaged so the longer side is at most `size` (unchanged if it is)."""
    height, width = x.shape[-2:]
    if max(height, width) <= size:
        return x
    scale = size / max(height, width)
    target = (max(1, round(height * scale)), max(1, round(width * scale)))
    return F.interpolate(x, size=target, mode="area")
