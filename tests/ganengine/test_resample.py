"""The anti-aliased resampling layers and the spectral measure of grid artefacts."""

import numpy as np
import pytest
import torch

from ganengine.metrics.spectrum import periodic_peaks
from ganengine.resample import Blur, upsample


def test_blur_keeps_the_shape_and_flat_images_and_removes_the_checkerboard() -> None:
    flat = torch.full((2, 3, 16, 16), 0.7)
    assert torch.allclose(Blur()(flat), flat)
    rows, cols = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    checkerboard = ((rows + cols) % 2 * 2 - 1).float()[None, None]  # the Nyquist pattern
    blurred = Blur()(checkerboard)
    assert blurred.shape == checkerboard.shape
    assert blurred[..., 1:-1, 1:-1].abs().max() < 1e-6  # inside, where no edge is replicated


def test_blur_adds_nothing_to_a_checkpoint() -> None:
    assert Blur().state_dict() == {}
    assert upsample().state_dict() == {}


def test_bilinear_upsampling_prints_no_block_pattern_where_nearest_does() -> None:
    smooth = torch.rand(32, 1, 16, 16)
    up = upsample()(smooth)
    nearest = torch.nn.Upsample(scale_factor=2, mode="nearest")(smooth)

    def period_2_peak(x: torch.Tensor) -> float:
        return periodic_peaks((x[:, 0] * 255).round().to(torch.uint8).numpy())[2]

    # Nearest neighbours repeat each pixel twice: the period-2 line of the spectrum is emptied
    # far below its neighbours, which is as much a pattern as a peak.
    assert period_2_peak(nearest) < 0.2
    assert period_2_peak(up) > period_2_peak(nearest) * 2


def test_periodic_peaks_are_about_one_for_noise_and_high_for_a_grid() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(16, 64, 64)).astype(np.uint8)
    assert all(0.8 < value < 1.25 for value in periodic_peaks(noise).values())
    grid = noise.astype(float)
    grid[:, ::4, :] += 60  # a bright line every 4 rows
    peaks = periodic_peaks(grid.clip(0, 255).astype(np.uint8))
    assert peaks[4] > 1.5 and peaks[2] > 1.5  # the grid and its harmonic at period 2
    assert 0.8 < peaks[8] < 1.25  # not a multiple of the grid's frequency


def test_periodic_peaks_name_bad_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        periodic_peaks(np.zeros((2, 8, 8), np.float32))
    with pytest.raises(ValueError, match="period 8 does not fit"):
        periodic_peaks(np.zeros((2, 12, 12), np.uint8))
