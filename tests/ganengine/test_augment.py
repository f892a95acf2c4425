import pytest
import torch

from ganengine.augment import BLACK, diff_augment
from ganengine.unconditional.config import AUGMENTATIONS


def _batch() -> torch.Tensor:
    return torch.rand(8, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("op", AUGMENTATIONS)
def test_each_op_keeps_the_shape_and_passes_gradients(op: str) -> None:
    x = _batch().requires_grad_()
    y = diff_augment(x, [op], torch.Generator().manual_seed(1))
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_empty_policy_is_the_identity() -> None:
    x = _batch()
    assert torch.equal(diff_augment(x, [], torch.Generator()), x)


def test_same_generator_state_gives_the_same_augmentation() -> None:
    x = _batch()
    ops = list(AUGMENTATIONS)
    a = diff_augment(x, ops, torch.Generator().manual_seed(5))
    b = diff_augment(x, ops, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_translation_moves_pixels_and_fills_with_black() -> None:
    x = torch.ones(64, 1, 32, 32)
    y = diff_augment(x, ["translation"], torch.Generator().manual_seed(2))
    assert set(y.unique().tolist()) == {BLACK, 1.0}
    shifted = (y == BLACK).flatten(1).any(dim=1)
    assert 0 < shifted.sum() < 64  # most images move, a zero shift is possible


def test_cutout_blacks_out_a_region_of_every_image() -> None:
    x = torch.ones(16, 1, 32, 32)
    y = diff_augment(x, ["cutout"], torch.Generator().manual_seed(3))
    black = (y == BLACK).flatten(1).sum(dim=1)
    assert torch.all(black > 0) and torch.all(black <= 16 * 16)
