"""The field-of-view detector on phantom screens with known truth and on the annotated fixture."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.crop_fixture import DATA_ROOT, load_cases
from quiz.field_of_view import FieldOfView, Rejected, find_field_of_view
from tests.phantoms import scanner_screen, staircase


def _frame_mask(fov: FieldOfView, size: tuple[int, int], which: str = "mask") -> np.ndarray:
    left, top, right, bottom = fov.box
    mask = np.zeros(size, dtype=bool)
    part = fov.mask if which == "mask" else fov.overlay
    if which == "mask" and part is None:
        mask[top:bottom, left:right] = True
    elif part is not None:
        mask[top:bottom, left:right] = part
    return mask


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / np.count_nonzero(a | b)


def test_sector_keeps_its_full_width():
    phantom = scanner_screen(1, shape="sector")
    fov = find_field_of_view(phantom.frames)
    columns = np.flatnonzero(phantom.field.any(axis=0))
    assert fov.shape == "sector"
    assert fov.box[0] <= columns[0] + 4 and fov.box[2] >= columns[-1] - 4
    assert _iou(_frame_mask(fov, phantom.field.shape), phantom.field) >= 0.9


def test_steered_parallelogram_is_found():
    phantom = scanner_screen(2, shape="parallelogram", ruler="bottom")
    fov = find_field_of_view(phantom.frames)
    assert fov.shape == "parallelogram"
    assert fov.mask is not None
    assert _iou(_frame_mask(fov, phantom.field.shape), phantom.field) >= 0.9


def test_ruler_marker_colour_bar_and_header_stay_outside():
    phantom = scanner_screen(3, ruler="side", focus_marker=True, colour_bar=True, header=True)
    fov = find_field_of_view(phantom.frames)
    field = _frame_mask(fov, phantom.field.shape)
    assert not (phantom.ui & field).any()
    assert _iou(field, phantom.field) >= 0.95


def test_calipers_over_the_field_are_reported_as_overlay():
    phantom = scanner_screen(4, calipers=True, focus_marker=False, ruler=None)
    fov = find_field_of_view(phantom.frames)
    inside_ui = phantom.ui & phantom.field
    assert inside_ui.any()
    overlay = _frame_mask(fov, phantom.field.shape, "overlay")
    assert (overlay & inside_ui).sum() >= 0.8 * inside_ui.sum()


def test_white_border_is_removed():
    phantom = scanner_screen(5, white_border=True, ruler="bottom")
    fov = find_field_of_view(phantom.frames)
    height, width = phantom.field.shape
    left, top, right, bottom = fov.box
    assert left > 20 and top > 20 and right < width - 20 and bottom < height - 20
    assert _iou(_frame_mask(fov, phantom.field.shape), phantom.field) >= 0.95


def test_static_ui_over_a_moving_loop_is_overlay():
    # Dark grey calipers are no near-white strokes: only the loop's stillness tells them apart.
    phantom = scanner_screen(
        6, frames=4, calipers=True, caliper_grey=120, ruler=None, focus_marker=False
    )
    inside_ui = phantom.ui & phantom.field
    size = phantom.field.shape
    loop = find_field_of_view(phantom.frames)
    single = find_field_of_view(phantom.frames[:1])
    assert (_frame_mask(loop, size, "overlay") & inside_ui).sum() >= 0.8 * inside_ui.sum()
    assert (_frame_mask(single, size, "overlay") & inside_ui).sum() <= 0.2 * inside_ui.sum()


def test_colour_scale_over_the_field_is_overlay_but_doppler_is_not():
    phantom = scanner_screen(9, colour_bar_on_field=True, doppler=True, ruler=None)
    fov = find_field_of_view(phantom.frames)
    size = phantom.field.shape
    overlay = _frame_mask(fov, size, "overlay")
    bar = phantom.ui & phantom.field
    assert (overlay & bar).sum() >= 0.9 * bar.sum()
    frame = phantom.frames[0].astype(int)
    doppler = (np.ptp(frame, axis=2) > 100) & phantom.field & ~phantom.ui
    assert doppler.sum() > 500
    assert (overlay & doppler).sum() <= 0.05 * doppler.sum()


def test_staircase_ends_within_its_budget():
    # A budget already spent after the first stage: the fallback says so, or the image is refused.
    try:
        fov = find_field_of_view([staircase()], budget_s=0.0)
    except Rejected as rejected:
        assert "budget" in str(rejected) or "no imaging field" in str(rejected)
    else:
        assert "budget" in fov.note
    with pytest.raises(Rejected):
        find_field_of_view([staircase()])


def test_tiny_budget_falls_back_to_the_textured_box():
    phantom = scanner_screen(7)
    fov = find_field_of_view(phantom.frames, budget_s=0.0)
    assert "time budget of 0 s" in fov.note
    assert fov.mask is None
    assert _iou(_frame_mask(fov, phantom.field.shape), phantom.field) >= 0.8


def test_blank_frame_is_rejected():
    with pytest.raises(Rejected, match="no imaging field"):
        find_field_of_view([np.zeros((300, 400), dtype=np.uint8)])


def test_inscribed_rectangle_lies_inside_the_field():
    phantom = scanner_screen(8, shape="sector")
    fov = find_field_of_view(phantom.frames)
    left, top, right, bottom = fov.inscribed
    assert fov.mask is not None
    assert fov.mask[top:bottom, left:right].all()
    # The sector's own field is more than twice its inscribed rectangle only when it is wrong.
    assert (right - left) * (bottom - top) >= 0.4 * fov.mask.sum()


# Measured on the fixture (benchmarks/bench_crop.py): phantoms mean IoU 0.995, all at IoU >= 0.9;
# the 50 real images (muscle-us, timtrack, DICOM) mean 0.983, 96 % at IoU >= 0.9. The floors
# leave a margin below those.
PHANTOM_MEAN_FLOOR, PHANTOM_SHARE_FLOOR = 0.97, 0.95
REAL_MEAN_FLOOR, REAL_SHARE_FLOOR = 0.95, 0.88


def _fixture_ious(groups: set[str] | None) -> list[float]:
    ious = []
    for case in load_cases(groups=groups):
        if isinstance(case, str):
            continue
        fov = find_field_of_view(case.frames)
        ious.append(_iou(_frame_mask(fov, case.field.shape), case.field))
    return ious


def test_fixture_phantoms_above_floor():
    ious = np.array(_fixture_ious({"phantom"}))
    assert len(ious) >= 15
    assert ious.mean() >= PHANTOM_MEAN_FLOOR
    assert np.mean(ious >= 0.9) >= PHANTOM_SHARE_FLOOR


@pytest.mark.skipif(not DATA_ROOT.exists(), reason=f"real images not found at {DATA_ROOT}")
def test_fixture_real_images_above_floor():
    ious = np.array(
        _fixture_ious({"muscle-us", "timtrack-cc0/dataset_1", "timtrack-cc0/dataset_2", "dicom"})
    )
    assert len(ious) >= 40
    assert ious.mean() >= REAL_MEAN_FLOOR
    assert np.mean(ious >= 0.9) >= REAL_SHARE_FLOOR
