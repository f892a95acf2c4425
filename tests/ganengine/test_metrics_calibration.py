"""The classifier two-sample test calibrated: ~0.5 for one distribution, ~1 for planted flaws.

Each test runs the full test (both observers, 5 folds, the CNN with early stopping) on a few
hundred 64 px textures (tests/ganengine/textures.py), a stand-in for a real image set.
"""

import numpy as np
import pytest
from scipy import ndimage

from ganengine.metrics import classifier_two_sample_test
from tests.ganengine.textures import quantise, texture_fields

pytestmark = pytest.mark.slow

PER_SET = 120


def test_two_halves_of_one_image_set_stay_near_chance() -> None:
    images = quantise(texture_fields(2 * PER_SET, seed=1))
    result = classifier_two_sample_test(images[:PER_SET], images[PER_SET:])
    assert set(result.observers) == {"cnn", "spectrum"}
    # The headline is the highest observer's AUC, biased upward under this null: still near 0.5.
    assert result.auc == max(observer.auc for observer in result.observers.values())
    assert result.observer in result.observers
    assert 0.35 <= result.auc <= 0.65
    for observer in result.observers.values():
        assert 0.35 <= observer.auc <= 0.65
    low, high = result.auc_ci
    assert low < 0.65 and high > 0.35


def test_a_planted_blur_is_found() -> None:
    fields = texture_fields(2 * PER_SET, seed=2)
    blurred = ndimage.gaussian_filter(fields[PER_SET:], sigma=(0, 1, 1))
    result = classifier_two_sample_test(quantise(fields[:PER_SET]), quantise(blurred))
    assert result.auc >= 0.9
    assert result.auc_ci[0] >= 0.8


def test_a_faint_planted_checkerboard_in_colour_is_found() -> None:
    fields = texture_fields(2 * PER_SET, seed=3, colour=True)
    # +-4 grey levels in every other pixel: a third of the pixel noise, invisible at a glance.
    checkerboard = (np.indices((64, 64)).sum(axis=0) % 2 * 2 - 1) * 4 / 255
    planted = fields[PER_SET:] + checkerboard[:, :, np.newaxis]
    result = classifier_two_sample_test(quantise(fields[:PER_SET]), quantise(planted))
    assert result.auc >= 0.9
    assert result.auc_ci[0] >= 0.8
