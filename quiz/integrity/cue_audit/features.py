"""Interpretable low-level statistics of one image, each a number a reader can check by hand.

They are the cues a participant could use without judging realism: how sharp, how noisy, how
bright and contrasted, how the power falls off with spatial frequency, and how blocky (JPEG).
They are measured on luminance (ITU-R 601-2, quiz.imaging.as_grey), so a colour image and a grey
one are compared alike; a study with colour adds the colour statistics (COLOUR_FEATURES: each
channel's mean and the mean saturation), where a generator's tint or washed-out colour shows.
Written with numpy and scipy; scikit-image's `estimate_sigma` would give the noise level, but it
is not installed and the estimator is three lines (Donoho's wavelet MAD, as it uses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image as PILImage

from quiz.imaging import as_grey, as_rgb

# Normal MAD → standard deviation: the median of |N(0, 1)| is 0.6745.
_MAD_TO_SIGMA = 0.6745
JPEG_BLOCK = 8


@dataclass(frozen=True)
class Feature:
    name: str
    label: str  # what a reader is told it measures
    unit: str = ""


FEATURES = (
    Feature("sharpness", "sharpness (variance of the Laplacian)"),
    Feature("noise", "noise level (wavelet MAD estimate of σ)", "grey levels"),
    Feature("mean", "mean intensity", "grey levels"),
    Feature("std", "intensity standard deviation (contrast)", "grey levels"),
    Feature("skewness", "intensity skewness"),
    Feature("kurtosis", "intensity excess kurtosis"),
    Feature("spectrum_slope", "radial power-spectrum slope (log-log)"),
)
# Only where the study has colour: in a grey study they repeat the mean intensity (and saturation
# is 0 everywhere).
COLOUR_FEATURES = (
    Feature("red_mean", "mean red channel", "levels"),
    Feature("green_mean", "mean green channel", "levels"),
    Feature("blue_mean", "mean blue channel", "levels"),
    Feature("saturation", "mean saturation (HSV)", "levels"),
)
# Only where a source image was a JPEG: elsewhere it measures nothing the study could differ in.
BLOCKINESS = Feature("blockiness", "JPEG blockiness (step across 8 px block edges / inside)")
NATIVE_SIDE = Feature("native_side", "native panel side before rendering", "px")


def sharpness(pixels: np.ndarray) -> float:
    """Variance of the Laplacian (4-neighbour, edges reflected): high for fine detail."""
    from scipy import ndimage  # scipy on first use: the web process imports this module (admin)

    return float(np.var(ndimage.laplace(pixels.astype(np.float64))))


def noise_sigma(pixels: np.ndarray) -> float:
    """Donoho's robust noise estimate: median |finest diagonal Haar coefficient| / 0.6745.

    The diagonal detail (a - b - c + d) / 2 of each 2 x 2 block has the noise's σ and almost
    none of smooth structure; the median ignores the edges that do have some.
    """
    x = pixels.astype(np.float64)
    height, width = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    x = x[:height, :width]
    diagonal = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2
    return float(np.median(np.abs(diagonal)) / _MAD_TO_SIGMA) if diagonal.size else float("nan")


def moments(pixels: np.ndarray) -> dict[str, float]:
    """Mean, standard deviation, skewness and excess kurtosis of the intensity histogram."""
    from scipy import stats

    x = pixels.astype(np.float64).ravel()
    constant = bool(np.all(x == x[0]))
    return {
        "mean": float(x.mean()),
        "std": float(x.std()),
        # Undefined for a constant image: 0 (no asymmetry, no tails) keeps it comparable.
        "skewness": 0.0 if constant else float(stats.skew(x)),
        "kurtosis": 0.0 if constant else float(stats.kurtosis(x)),
    }


def spectrum_slope(pixels: np.ndarray) -> float:
    """Slope of log power against log spatial frequency, radially averaged.

    Natural images fall off as about f^-2; blur steepens the slope, noise flattens it. Fitted
    over integer radii 1 .. side/2 (the DC term and the corners beyond Nyquist left out).
    """
    x = pixels.astype(np.float64)
    x = x - x.mean()
    power = np.abs(np.fft.fftshift(np.fft.fft2(x))) ** 2
    height, width = x.shape
    y_index, x_index = np.indices(x.shape)
    radius = np.rint(np.hypot(y_index - height // 2, x_index - width // 2)).astype(int)
    top = min(height, width) // 2
    sums = np.bincount(radius.ravel(), weights=power.ravel())
    counts = np.bincount(radius.ravel())
    radii = np.arange(1, top + 1)
    mean_power = sums[radii] / counts[radii]
    keep = mean_power > 0
    if keep.sum() < 2:
        return float("nan")
    slope, _ = np.polyfit(np.log(radii[keep]), np.log(mean_power[keep]), 1)
    return float(slope)


def blockiness(pixels: np.ndarray) -> float:
    """Mean absolute step between neighbours across 8-pixel block edges, over that inside blocks.

    About 1 without block artefacts; above 1 where a JPEG's blocks show. Both directions pooled.
    """
    x = pixels.astype(np.float64)
    across, inside = [], []
    for steps in (np.abs(np.diff(x, axis=1)), np.abs(np.diff(x, axis=0)).T):
        # The step between pixel j and j + 1 crosses a block edge when j + 1 is a multiple of 8.
        edge = (np.arange(steps.shape[1]) + 1) % JPEG_BLOCK == 0
        across.append(steps[:, edge].ravel())
        inside.append(steps[:, ~edge].ravel())
    across_mean, inside_mean = np.concatenate(across), np.concatenate(inside)
    if not across_mean.size or not inside_mean.size:
        return float("nan")  # smaller than a block: no edge to measure
    return float(across_mean.mean() / max(inside_mean.mean(), 1e-9))


def colour_statistics(pixels: np.ndarray) -> dict[str, float]:
    """Each channel's mean and the mean HSV saturation (Pillow's) of uint8 grey or RGB pixels;
    grey pixels have three equal means and no saturation."""
    rgb = as_rgb(pixels)
    means = rgb.reshape(-1, 3).astype(np.float64).mean(axis=0)
    hsv = np.asarray(PILImage.fromarray(rgb, mode="RGB").convert("HSV"))
    return {
        "red_mean": float(means[0]),
        "green_mean": float(means[1]),
        "blue_mean": float(means[2]),
        "saturation": float(hsv[..., 1].mean()),
    }


def image_features(
    pixels: np.ndarray, *, with_blockiness: bool, with_colour: bool = False
) -> dict[str, float]:
    """Every feature of FEATURES of one uint8 H x W or H x W x 3 image, on its luminance; and
    blockiness and COLOUR_FEATURES if asked, in that order."""
    luminance = as_grey(pixels)
    values = {
        "sharpness": sharpness(luminance),
        "noise": noise_sigma(luminance),
        **moments(luminance),
        "spectrum_slope": spectrum_slope(luminance),
    }
    if with_blockiness:
        values["blockiness"] = blockiness(luminance)
    if with_colour:
        values.update(colour_statistics(pixels))
    return values
