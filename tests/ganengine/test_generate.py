from pathlib import Path

import numpy as np
import pytest

from ganengine.unconditional import generate


def test_images_are_uint8_squares_at_the_trained_resolution(checkpoint: Path) -> None:
    images = generate(checkpoint, 5, device="cpu")
    assert images.shape == (5, 32, 32)
    assert images.dtype == np.uint8
    assert images.max() > images.min()  # not a blank output


def test_same_seed_gives_the_same_images(checkpoint: Path) -> None:
    assert np.array_equal(generate(checkpoint, 4, seed=9), generate(checkpoint, 4, seed=9))
    assert not np.array_equal(generate(checkpoint, 4, seed=9), generate(checkpoint, 4, seed=10))


def test_image_i_does_not_depend_on_batch_size_or_count(checkpoint: Path) -> None:
    reference = generate(checkpoint, 10, seed=3, batch_size=10)
    assert np.array_equal(generate(checkpoint, 10, seed=3, batch_size=3), reference)
    assert np.array_equal(generate(checkpoint, 4, seed=3)[3], reference[3])


def test_image_i_of_seed_s_is_the_image_of_seed_s_plus_i(checkpoint: Path) -> None:
    reference = generate(checkpoint, 10, seed=3)
    for i in (0, 4, 9):
        assert np.array_equal(generate(checkpoint, 1, seed=3 + i)[0], reference[i])


def test_images_differ_within_a_batch(checkpoint: Path) -> None:
    images = generate(checkpoint, 2)
    assert not np.array_equal(images[0], images[1])


def test_zero_count_gives_an_empty_batch(checkpoint: Path) -> None:
    assert generate(checkpoint, 0).shape == (0, 32, 32)


def test_invalid_arguments_are_rejected(checkpoint: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        generate(checkpoint, 3, batch_size=0)
