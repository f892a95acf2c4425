"""The mask-to-image family's training data, and label maps <-> the mask domain the networks see.

Masks enter the CycleGAN as one channel in [-1, 1]: background -1, fascicle 0, aponeurosis +1,
and leave F thresholded half-way between those levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ganengine.masks import APONEUROSIS, BACKGROUND, FASCICLE, generate_masks

# Synthetic masks drawn for one training run: far more than the few hundred real images, so the
# mask domain is never the one that runs short.
TRAINING_MASKS = 2000

_LEVELS = {BACKGROUND: -1.0, FASCICLE: 0.0, APONEUROSIS: 1.0}

# Why colour images are refused. Its networks could take three channels, but its histogram critic
# sorts all of an image's values as one intensity distribution, which would pool R, G and B, and
# its masks, mask priors and segmentation scores are those of grey muscle ultrasound.
GREY_ONLY = "the mask-to-image family trains on grey images only (one channel)"


@dataclass
class UnpairedData:
    """What the mask-to-image family trains on: the two domains, not paired with each other."""

    images: torch.Tensor  # [N, 1, R, R] in [-1, 1], real grey images (ganengine.data)
    masks: torch.Tensor  # [M, 1, R, R] in the mask domain (training_masks)


def masks_to_tensor(labels: np.ndarray) -> torch.Tensor:
    """uint8 label maps [N, R, R] -> float32 [N, 1, R, R] in {-1, 0, 1}."""
    if labels.dtype != np.uint8 or labels.ndim != 3:
        raise ValueError(f"masks must be uint8 [N, R, R], not {labels.dtype} {labels.shape}")
    lookup = torch.full((256,), -1.0)
    for label, level in _LEVELS.items():
        lookup[label] = level
    return lookup[torch.from_numpy(labels).long()].unsqueeze(1)


def training_masks(resolution: int, seed: int, count: int = TRAINING_MASKS) -> torch.Tensor:
    """The synthetic masks a run trains on: [count, 1, R, R] in the networks' mask domain."""
    return masks_to_tensor(generate_masks(count, resolution, seed=seed))


def tensor_to_labels(x: torch.Tensor) -> np.ndarray:
    """[N, 1, R, R] mask-domain values -> uint8 label maps [N, R, R], nearest level wins."""
    x = x.detach().float().squeeze(1).cpu()
    labels = torch.full(x.shape, BACKGROUND, dtype=torch.uint8)
    labels[x > -0.5] = FASCICLE
    labels[x > 0.5] = APONEUROSIS
    return labels.numpy()


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, R, R] -> float32 [N, 1, R, R] in [-1, 1], as ganengine.data prepares images."""
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"images must be uint8 [N, R, R], not {images.dtype} {images.shape}")
    return (torch.from_numpy(images).float() / 127.5 - 1.0).unsqueeze(1)
