import numpy as np
import pytest
import torch

from ganengine.images import to_uint8
from ganengine.metrics import classifier_two_sample_test, roc_auc
from ganengine.metrics.observers import SpectrumObserver
from tests.ganengine.toy import band_images


def _speckle_only(count: int, seed: int) -> np.ndarray:
    """The toy images without their bright band."""
    speckle = np.random.default_rng(seed).rayleigh(0.08, size=(count, 1, 32, 32)).clip(0, 0.3)
    return to_uint8(torch.from_numpy(speckle * 2 - 1))


def test_roc_auc_of_known_cases() -> None:
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert roc_auc(np.array([1, 2, 3, 4]), np.array([0, 0, 1, 1])) == 1.0
    assert roc_auc(np.array([1, 2, 3, 4]), np.array([1, 1, 0, 0])) == 0.0
    assert roc_auc(np.array([5, 5, 5, 5]), np.array([0, 1, 0, 1])) == 0.5
    assert roc_auc(np.array([1, 1, 2]), np.array([0, 1, 1])) == 0.75  # a tie counts one half


def test_roc_auc_equals_the_fraction_of_correctly_ordered_pairs() -> None:
    rng = np.random.default_rng(0)
    scores, labels = rng.integers(0, 5, 60).astype(float), rng.integers(0, 2, 60)
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    assert roc_auc(scores, labels) == pytest.approx(pairs.mean())


def test_roc_auc_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="one positive and one negative"):
        roc_auc(np.array([0.1, 0.2]), np.array([1, 1]))


def test_two_samples_of_one_distribution_are_indistinguishable() -> None:
    first, second = to_uint8(band_images(160, seed=1)), to_uint8(band_images(160, seed=2))
    result = classifier_two_sample_test(first, second, epochs=5)
    assert 0.35 < result.auc < 0.65
    assert (result.n_real, result.n_fake, result.folds) == (160, 160, 5)
    low, high = result.auc_ci
    assert low < result.auc < high and low < 0.5 < high


def test_images_with_and_without_a_band_are_told_apart() -> None:
    bands = to_uint8(band_images(60, seed=1))
    result = classifier_two_sample_test(bands, _speckle_only(40, seed=3), epochs=5)
    assert result.auc > 0.9
    assert 0.8 < result.auc_ci[0] <= result.auc <= result.auc_ci[1] <= 1
    assert (result.n_real, result.n_fake) == (60, 40)


def test_the_test_is_deterministic_for_a_seed() -> None:
    real, fake = to_uint8(band_images(30, seed=1)), to_uint8(band_images(30, seed=2))
    run = lambda seed: classifier_two_sample_test(real, fake, folds=3, epochs=2, seed=seed)  # noqa: E731
    assert run(7) == run(7)
    assert run(7) != run(8)


def test_large_images_are_downsampled_first() -> None:
    real = np.random.default_rng(0).integers(0, 256, (10, 200, 300), dtype=np.uint8)
    result = classifier_two_sample_test(real, real[::-1].copy(), folds=2, epochs=1)
    assert 0 <= result.auc <= 1


def test_sets_of_different_image_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="Image sizes differ"):
        classifier_two_sample_test(np.zeros((6, 8, 8), np.uint8), np.zeros((6, 8, 9), np.uint8))


def test_too_few_images_for_the_folds_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least 5 images of each kind"):
        classifier_two_sample_test(np.zeros((4, 8, 8), np.uint8), np.zeros((9, 8, 8), np.uint8))


def test_the_headline_is_the_highest_observer_and_each_observer_is_kept() -> None:
    bands = to_uint8(band_images(40, seed=1))
    result = classifier_two_sample_test(bands, _speckle_only(40, seed=3), folds=4, epochs=20)
    assert set(result.observers) == {"cnn", "spectrum"}
    best = max(result.observers, key=lambda name: result.observers[name].auc)
    assert (result.observer, result.auc) == (best, result.observers[best].auc)
    assert result.auc_std == result.observers[best].auc_std
    for observer in result.observers.values():
        low, high = observer.auc_ci
        assert 0 <= low <= high <= 1
    # The CNN stops early: each fold names the epoch whose weights scored it, within the bound.
    assert len(result.observers["cnn"].epochs) == 4
    assert all(1 <= epoch <= 20 for epoch in result.observers["cnn"].epochs)
    assert result.observers["spectrum"].epochs is None


def test_observers_can_be_chosen_and_need_distinct_names() -> None:
    real, fake = to_uint8(band_images(20, seed=1)), _speckle_only(20, seed=3)
    only = classifier_two_sample_test(real, fake, folds=2, observers=[SpectrumObserver()])
    assert list(only.observers) == ["spectrum"] and only.observer == "spectrum"
    with pytest.raises(ValueError, match="distinct names"):
        classifier_two_sample_test(
            real, fake, folds=2, observers=[SpectrumObserver(), SpectrumObserver(bins=8)]
        )
