from pathlib import Path

import numpy as np
import pytest
import torch

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


def test_an_exported_generator_is_smaller_and_generates_the_same_images(
    checkpoint: Path, tmp_path: Path
) -> None:
    from ganengine import families
    from ganengine.checkpoint import CheckpointError
    from ganengine.unconditional import PRESETS, export_generator

    exported = export_generator(checkpoint, tmp_path / "generator.pt")
    assert exported.stat().st_size < checkpoint.stat().st_size / 3
    assert families.of_checkpoint(exported).name == "unconditional"
    # fp16 weights move a few pixels by a grey level or two, no more.
    difference = generate(exported, 8, seed=5).astype(int) - generate(checkpoint, 8, seed=5)
    assert np.abs(difference).max() <= 3
    assert np.abs(difference).mean() < 0.5
    family = families.get("unconditional")
    with pytest.raises(CheckpointError, match="not a checkpoint of kind ganengine-checkpoint"):
        family.train(PRESETS["tiny"], torch.zeros(2, 1, 32, 32), tmp_path, resume_from=exported)
