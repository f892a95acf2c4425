"""A stand-in for a real image set: random textures with a natural (power-law) spectrum.

Each image is a Gaussian random field whose power falls as 1 / f^beta (beta drawn per image
between 2 and 3, as in natural images and ultrasound's smooth anatomy), plus pixel noise like
speckle; in colour, each image is tinted and each channel gets its own noise. Two draws of one
seed-free distribution are what "real against real" means for the machine observers.
"""

from __future__ import annotations

import numpy as np


def texture_fields(
    count: int, side: int = 64, *, seed: int = 0, colour: bool = False
) -> np.ndarray:
    """float [count, side, side] (or [..., 3] in colour) in about [0, 1], before quantisation."""
    rng = np.random.default_rng(seed)
    frequency = np.hypot(np.fft.fftfreq(side)[:, None], np.fft.rfftfreq(side)[None, :])
    frequency[0, 0] = 1.0
    beta = rng.uniform(2.0, 3.0, size=(count, 1, 1))
    shape = (count, side, side // 2 + 1)
    spectrum = (rng.normal(size=shape) + 1j * rng.normal(size=shape)) * frequency ** (-beta / 2)
    field = np.fft.irfft2(spectrum, s=(side, side))
    field = (field - field.mean(axis=(1, 2), keepdims=True)) / field.std(axis=(1, 2), keepdims=True)
    if not colour:
        return 0.45 + 0.15 * field + rng.normal(0, 0.05, field.shape)
    tint = rng.uniform(0.7, 1.3, size=(count, 1, 1, 3))
    return (0.45 + 0.15 * field[..., np.newaxis]) * tint + rng.normal(0, 0.05, (*field.shape, 3))


def quantise(fields: np.ndarray) -> np.ndarray:
    """float in [0, 1] -> uint8, as an image file stores it."""
    return (fields.clip(0, 1) * 255).round().astype(np.uint8)


def textures(count: int, side: int = 64, *, seed: int = 0, colour: bool = False) -> np.ndarray:
    """uint8 [count, side, side] (or [..., 3]) textures."""
    return quantise(texture_fields(count, side, seed=seed, colour=colour))
