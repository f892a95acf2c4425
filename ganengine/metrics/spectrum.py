"""Grid and checkerboard artefacts, measured: periodic peaks in the mean power spectrum.

An upsampling layer that leaves a pattern with period p (2, 4, 8 ... pixels) puts energy on the
spectral lines at frequency side / p in both directions. `periodic_peaks` divides the mean
power on those lines by the mean power on the lines beside them: about 1 for natural images
(whose spectra fall off smoothly), clearly above 1 for a generator with a grid. Compare with
the same figure of real images at the same size.
"""

from __future__ import annotations

import numpy as np

PERIODS = (2, 4, 8)


def periodic_peaks(images: np.ndarray, periods: tuple[int, ...] = PERIODS) -> dict[int, float]:
    """{period: line power / neighbouring lines' power} of uint8 [N, S, S] images."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"images must be uint8 [N, S, S], got {images.dtype} {images.shape}")
    side = images.shape[1]
    x = images.astype(np.float64) / 255.0
    x -= x.mean(axis=(1, 2), keepdims=True)  # the DC term would dwarf everything else
    power = (np.abs(np.fft.fft2(x)) ** 2).mean(axis=0)  # [S, S]
    peaks = {}
    for period in periods:
        if side % period or side // period < 2:
            raise ValueError(f"period {period} does not fit images of side {side}")
        k = side // period

        def line(i: int) -> float:  # row i and column i of the spectrum
            return float(power[i % side, :].mean() + power[:, i % side].mean())

        beside = (line(k - 1) + line(k + 1)) / 2
        peaks[period] = line(k) / beside if beside > 0 else float("nan")  # flat images
    return peaks
