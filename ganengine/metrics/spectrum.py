"""Power spectra of image sets: the radial profile and periodic (grid, checkerboard) peaks.

`radial_power_spectrum` averages each image's power spectrum over rings of equal spatial
frequency (the azimuthal average), per channel: upsampling that smooths too much or too little,
blur, and missing or invented speckle all show in it, which is why the classifier two-sample
test has a linear observer on it (ganengine.metrics.observers).

`periodic_peaks` measures grid and checkerboard artefacts. An upsampling layer that leaves a
pattern with period p (2, 4, 8 ... pixels) puts energy on the spectral lines at frequency
side / p in both directions; the figure divides the mean power on those lines by the mean power
on the lines beside them: about 1 for natural images (whose spectra fall off smoothly), clearly
above 1 for a generator with a grid. Compare with the same figure of real images at the same
size. RGB images are measured on their luminance: one figure per set, comparable between grey
and colour generators, and a grid that an upsampling layer leaves is in every channel alike.
"""

from __future__ import annotations

import numpy as np

from ganengine.metrics._pixels import check_images, luminance

PERIODS = (2, 4, 8)


def radial_power_spectrum(images: np.ndarray, bins: int | None = None) -> np.ndarray:
    """float64 [N, C, bins]: each image's mean power per ring of radial frequency, per channel.

    `images` are uint8 [N, H, W] (C = 1) or [N, H, W, 3] (C = 3). Ring b holds the frequencies
    whose radius, in cycles per pixel, lies in [b, b + 1) * r / bins, where r = 0.5 * sqrt(2) is
    the corner's radius: the corners beyond the Nyquist circle are kept, since a checkerboard's
    energy sits in them. `bins` defaults to half the shorter side. Each image's mean is removed
    first, so the DC term does not dwarf the rest.
    """
    images = check_images(images, "images")
    height, width = images.shape[1:3]
    bins = bins or min(height, width) // 2
    if bins < 1:
        raise ValueError(f"images of {height} x {width} pixels are too small for a spectrum")
    x = images.astype(np.float64) / 255
    x = x[..., np.newaxis] if x.ndim == 3 else x  # [N, H, W, C]
    x = x - x.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(x, axes=(1, 2))) ** 2 / (height * width)  # [N, H, W, C]
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij"))
    ring = np.minimum(np.floor(radius / np.hypot(0.5, 0.5) * bins), bins - 1).astype(int).ravel()
    rings = np.zeros((height * width, bins))  # one-hot: frequency -> its ring
    rings[np.arange(height * width), ring] = 1
    # A mean, not a sum, per ring (a ring of a tiny image may hold no frequency: it stays 0).
    rings /= np.maximum(rings.sum(axis=0, keepdims=True), 1)
    return np.einsum("nfc,fb->ncb", power.reshape(len(images), height * width, -1), rings)


def periodic_peaks(images: np.ndarray, periods: tuple[int, ...] = PERIODS) -> dict[int, float]:
    """{period: line power / neighbouring lines' power} of uint8 [N, S, S] or [N, S, S, 3]."""
    images = check_images(images, "images")
    if images.shape[1] != images.shape[2]:
        raise ValueError(f"images must be square, got {images.shape[1]} x {images.shape[2]}")
    side = images.shape[1]
    x = luminance(images) / 255.0
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
