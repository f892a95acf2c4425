import math

import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance

from ganengine.metrics import fid, kid


def _pytorch_fid(real: np.ndarray, fake: np.ndarray) -> float:
    return calculate_frechet_distance(
        real.mean(0), np.cov(real, rowvar=False), fake.mean(0), np.cov(fake, rowvar=False)
    )


def test_fid_of_identical_feature_sets_is_zero() -> None:
    features = np.random.default_rng(0).normal(size=(40, 16))
    assert fid(features, features).fid == pytest.approx(0, abs=1e-9)


def test_fid_of_one_dimensional_samples_has_the_closed_form() -> None:
    # Real {1, 3}: mean 2, variance 2. Fake {0, 4, 8}: mean 4, variance 16 (ddof=1).
    # (2 - 4)^2 + (sqrt(2) - 4)^2 = 22 - 8 sqrt(2).
    result = fid(np.array([[1.0], [3.0]]), np.array([[0.0], [4.0], [8.0]]))
    assert result.fid == pytest.approx(22 - 8 * math.sqrt(2), rel=1e-12)
    assert (result.n_real, result.n_fake) == (2, 3)


@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated")  # pytorch-fid's scipy call
@pytest.mark.parametrize("count", [12, 300])  # fewer and more vectors than dimensions
def test_fid_matches_pytorch_fid(count: int) -> None:
    rng = np.random.default_rng(1)
    real = rng.normal(size=(count, 64))
    fake = rng.normal(0.2, 1.3, size=(count + 5, 64)) + rng.normal(size=64) * 0.1
    assert fid(real, fake).fid == pytest.approx(_pytorch_fid(real, fake), rel=1e-6)


def test_fid_rejects_feature_sets_of_different_widths() -> None:
    with pytest.raises(ValueError, match="Feature sizes differ"):
        fid(np.zeros((4, 3)), np.zeros((4, 2)))


def test_kid_of_a_tiny_case_matches_the_hand_computed_unbiased_mmd() -> None:
    # k(x, y) = (x y + 1)^3 on x = {0, 1}, y = {0, 2}: within-set off-diagonal terms give
    # 2 * 1 / 2 + 2 * 1 / 2 = 2, the cross term 2 * (1 + 1 + 1 + 27) / 4 = 15, so MMD^2 = -13.
    result = kid(np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]]), subsets=3)
    assert result.kid == pytest.approx(-13)
    assert result.kid_std == 0  # every subset is the whole set
    assert (result.n_real, result.n_fake, result.subset_size) == (2, 2, 2)


def test_kid_is_near_zero_for_one_distribution_and_clearly_positive_for_two() -> None:
    rng = np.random.default_rng(2)
    same = kid(rng.normal(size=(200, 32)), rng.normal(size=(200, 32)), subset_size=100)
    shifted = kid(rng.normal(size=(200, 32)), rng.normal(0.5, 1, size=(200, 32)), subset_size=100)
    assert abs(same.kid) < 0.05 * shifted.kid
    assert shifted.kid > 5 * shifted.kid_std


def test_kid_reports_both_counts_and_caps_the_subset_size() -> None:
    rng = np.random.default_rng(3)
    result = kid(rng.normal(size=(30, 8)), rng.normal(size=(20, 8)), subsets=5)
    assert (result.n_real, result.n_fake, result.subsets, result.subset_size) == (30, 20, 5, 20)


def test_kid_is_reproducible_for_a_seed() -> None:
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(50, 8)), rng.normal(size=(50, 8))
    assert kid(real, fake, subset_size=10, seed=1) == kid(real, fake, subset_size=10, seed=1)
    assert kid(real, fake, subset_size=10, seed=1) != kid(real, fake, subset_size=10, seed=2)


def test_kid_needs_two_vectors_per_subset() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        kid(np.zeros((1, 4)), np.zeros((5, 4)))
