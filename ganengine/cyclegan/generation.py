"""Synthetic image + mask pairs from a trained CycleGAN.

Pair i of generate_pairs(ckpt, n, seed=s) is the mask of seed s + i (ganengine.masks) and G's
image of it: one stored (checkpoint, seed) reproduces both, whatever the count or batch size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganengine.cyclegan.checkpoints import CycleGANCheckpoints
from ganengine.cyclegan.config import CycleGANConfig
from ganengine.cyclegan.data import masks_to_tensor
from ganengine.cyclegan.steps import load_networks
from ganengine.device import pick_device
from ganengine.images import to_uint8
from ganengine.masks import MaskParams, generate_masks


def load_cyclegan(
    path: str | Path, name: str, device: str | torch.device | None = None
) -> tuple[nn.Module, CycleGANConfig]:
    """Network `name` ("g": mask -> image, "f": image -> mask) in eval mode, and its config."""
    saved = CycleGANCheckpoints().load_checkpoint(path)
    net = load_networks(saved, path, (name,))[name]
    return net.to(pick_device(device)).eval(), saved["config"]


def generate_pairs(
    checkpoint: str | Path,
    count: int,
    *,
    seed: int = 0,
    batch_size: int = 16,
    params: MaskParams | None = None,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [count, R, R], label masks uint8 [count, R, R]) of seeds seed .. seed+count-1.

    `params` must be those the training masks were drawn with (default: the fitted MaskParams()).
    """
    if count < 0 or batch_size < 1 or seed < 0:
        raise ValueError("count and seed must be >= 0 and batch_size >= 1")
    g, config = load_cyclegan(checkpoint, "g", device)
    device = next(g.parameters()).device
    r = config.resolution
    masks = generate_masks(count, r, seed, params)
    images = np.empty((count, r, r), dtype=np.uint8)
    with torch.inference_mode():
        for start in range(0, count, batch_size):
            batch = masks_to_tensor(masks[start : start + batch_size]).to(device)
            images[start : start + len(batch)] = to_uint8(g(batch))
    return images, masks
