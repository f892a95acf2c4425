"""A toy distribution the GAN must learn: a bright horizontal band at a random depth on speckle."""

from __future__ import annotations

import numpy as np
import torch


def band_images(count: int, resolution: int = 32, seed: int = 0) -> torch.Tensor:
    """[count, 1, R, R] in [-1, 1]: dark speckled background, one 4-row bright band."""
    rng = np.random.default_rng(seed)
    images = rng.rayleigh(0.08, size=(count, resolution, resolution)).clip(0, 0.3)  # speckle
    for image, top in zip(images, rng.integers(2, resolution - 6, size=count), strict=True):
        image[top : top + 4] = 0.85 + 0.1 * rng.random((4, resolution))
    return torch.from_numpy(images * 2 - 1).float().unsqueeze(1)


def band_statistics(images: np.ndarray) -> np.ndarray:
    """[mean intensity, std intensity, band contrast] of uint8 [N, R, R] images, each in [0, 1].

    Band contrast is, per image, the brightest row's mean minus the median row mean: about 0.7
    for the data and near 0 for an untrained generator's grey blur.
    """
    pixels = images.astype(np.float64) / 255
    rows = pixels.mean(axis=2)  # [N, R]
    contrast = rows.max(axis=1) - np.median(rows, axis=1)
    return np.array([pixels.mean(), pixels.std(), contrast.mean()])
