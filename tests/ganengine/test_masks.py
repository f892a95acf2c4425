from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganengine.masks import (
    APONEUROSIS,
    FASCICLE,
    MaskParams,
    components,
    fit_mask_params,
    generate_mask,
    generate_masks,
    mask_rng,
    measure_aponeuroses,
    measure_fascicles,
    render,
)


def _bands(mask: np.ndarray) -> list[np.ndarray]:
    return sorted(components(mask == APONEUROSIS), key=lambda c: c[:, 0].mean())


@pytest.mark.parametrize("size", [32, 64, 256])
def test_masks_are_label_maps_with_two_aponeuroses_and_fascicles(size: int) -> None:
    for mask in generate_masks(8, size, seed=1):
        assert mask.dtype == np.uint8 and mask.shape == (size, size)
        assert set(np.unique(mask)) <= {0, APONEUROSIS, FASCICLE}
        assert len(_bands(mask)) == 2
        assert (mask == FASCICLE).any()


def test_the_superficial_aponeurosis_lies_above_the_deep_one_with_fascicles_between() -> None:
    for mask in generate_masks(10, 128, seed=2):
        superficial, deep = _bands(mask)
        for y, x in np.argwhere(mask == FASCICLE):
            above = superficial[superficial[:, 1] == x, 0]
            below = deep[deep[:, 1] == x, 0]
            assert len(above) and len(below), "fascicles only where both bands are"
            assert above.max() < y < below.min()


def test_fascicles_meet_the_deep_aponeurosis_at_a_pennation_angle_in_range() -> None:
    params = MaskParams()
    low, high = params.pennation
    checked = 0
    for seed in range(12):
        mask = generate_mask(mask_rng(seed), 256, params)
        deep_tilt = measure_aponeuroses(mask == APONEUROSIS)[1]["tilt"]
        for fascicle in measure_fascicles(mask == FASCICLE):
            if fascicle["length"] < 0.08:  # short clipped pieces have a pixel-noisy angle
                continue
            assert low - 3 <= fascicle["angle"] - deep_tilt <= high + 3
            checked += 1
    assert checked > 20


def test_masks_are_deterministic_per_seed_and_independent_of_count() -> None:
    a = generate_masks(4, 64, seed=3)
    assert np.array_equal(a, generate_masks(4, 64, seed=3))
    assert np.array_equal(a[2], generate_masks(1, 64, seed=5)[0])
    assert not np.array_equal(a[0], a[1])


def test_mask_params_round_trip_through_a_dict_and_reject_unknown_keys() -> None:
    params = MaskParams(pennation=(5.0, 9.0))
    assert MaskParams.from_dict(params.to_dict()) == params
    with pytest.raises(ValueError, match="bogus"):
        MaskParams.from_dict({"bogus": [1, 2]})


def test_narrow_ranges_give_the_requested_geometry() -> None:
    params = MaskParams(superficial_depth=(0.2, 0.2), deep_gap=(0.5, 0.5), curvature=(0, 0))
    superficial, deep = measure_aponeuroses(generate_mask(mask_rng(0), 256, params) == 1)
    assert superficial["depth"] == pytest.approx(0.2, abs=0.01)
    assert deep["depth"] == pytest.approx(0.7, abs=0.01)


def test_components_join_diagonal_neighbours_and_separate_the_rest() -> None:
    image = np.zeros((5, 6), dtype=bool)
    image[0, 0] = image[1, 1] = image[2, 2] = True  # one diagonal line
    image[4, 3:6] = True  # a separate run
    sizes = sorted(len(c) for c in components(image))
    assert sizes == [3, 3]


def test_fitting_synthetic_masks_recovers_their_ranges(tmp_path: Path) -> None:
    params = MaskParams()
    masks = generate_masks(40, 256, seed=4, params=params)
    for kind, label in (("aponeurosis", APONEUROSIS), ("fascicle", FASCICLE)):
        (tmp_path / kind).mkdir()
        for i, mask in enumerate(masks):
            Image.fromarray(np.where(mask == label, 255, 0).astype(np.uint8)).save(
                tmp_path / kind / f"{i}.png"
            )

    fitted, counts = fit_mask_params(tmp_path / "aponeurosis", tmp_path / "fascicle")

    assert counts["superficial_depth"] == 40
    for name in ("superficial_depth", "deep_gap", "deep_tilt", "pennation"):
        low, high = getattr(params, name)
        span = high - low
        f_low, f_high = getattr(fitted, name)
        assert low - 0.15 * span <= f_low < f_high <= high + 0.15 * span, name


def test_render_shows_aponeuroses_white_and_fascicles_grey() -> None:
    labels = np.array([[[0, 1, 2]]], dtype=np.uint8)
    assert render(labels).tolist() == [[[0, 255, 128]]]
