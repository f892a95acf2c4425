"""Is an uploaded frame plain grayscale B-mode ultrasound? Flags for the ingest report.

`check_bmode` looks at one decoded frame (and, when known, the mask of its imaging field and the
DICOM Modality) and returns what is wrong with it as ultrasound training material; an empty list
means plain grayscale B-mode. A flagged image is kept out of training and studies unless staff
accept it.

- ``modality``: a DICOM Modality other than ``US`` (MR, CT, ...).
- ``colour-flow``: saturated colour inside the field in blobs — colour Doppler (red/blue) or an
  elastography map (rainbow) over the field.
- ``colour-in-field``: saturated colour inside the field that is not blob-like (coloured
  annotations, calipers, markers).
- ``not-ultrasound``: the field lacks B-mode speckle — an application screenshot (flat panels,
  text, toolbars), a multi-pane viewer, a 3-D render, an MRI or CT slice.

Both pixel checks run on a copy no larger than `_WORK_SIDE` pixels a side (box-averaged), so one
1000² frame costs a few tens of milliseconds.

Colour. "Saturated" is measured against the frame's own colour map, not against grey: many
scanners show B-mode through a tinted map (sepia, blue), where chroma is a function of luminance
with one hue. For each luminance bin the median chroma (Cb, Cr) of the field's least chromatic
pixels is that map (capped at a mild tint); a pixel is coloured when its chroma lies far from the
map's at its luminance. Doppler red/blue and a rainbow elastography map are far from any single
tint; JPEG chroma noise and the tint itself are not. Coloured pixels that survive a morphological
opening (areas at least a few pixels thick) are flow-like blobs; thin or tiny ones are annotations.

Speckle. B-mode is grainy everywhere except in echo-free (dark) areas. The field is cut into
16 x 16 blocks; dark blocks and uniform panels are not judged. A judged block is speckle when its
high-frequency energy is large and almost none of its pixels sits in a locally flat patch; it is
smooth when its high-frequency energy is small. Screenshots are flat panels with thin text and sharp
lines (neither speckle nor smooth: flat pixels all around the strokes); renders and MRI or CT slices
as viewers show them are smooth. The field is flagged when under half of its judged blocks are
speckle, or over a fifth are smooth (a smooth pane beside a B-mode pane in a viewer). A noisy CT or
MR slice at its native resolution can pass as speckle: the DICOM Modality catches those.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import PIL.Image
from scipy import ndimage

# Working copy: box-averaged down to at most this many pixels a side.
_WORK_SIDE = 512

# Colour ------------------------------------------------------------------------------------------
# Chroma (distance in the Cb/Cr plane, 0..~180, unscaled BT.601) this far from the frame's colour
# map at the pixel's luminance counts as saturated colour. JPEG chroma noise on a grey or tinted
# scan stays well below it; Doppler red/blue and rainbow maps are far above.
_COLOUR_DISTANCE = 40.0
_LUMA_BINS = 32
# A tint is mild: the colour map's chroma is capped at this share of the luminance plus a base, so
# that Doppler colours which dominate a thin luminance bin cannot become "the map" themselves.
# (The tests' sepia and blue maps: about 0.27 x luminance.)
_TINT_SLOPE = 0.35
_TINT_BASE = 8.0
# A luminance bin needs this many field pixels for its own median; others are interpolated.
_BIN_MIN_PIXELS = 20
# The map is taken from the least chromatic pixels of each bin: those at or below this percentile.
_MAP_PERCENTILE = 10
# Opening radius (working-copy pixels) that keeps flow blobs and removes lines and text strokes.
_BLOB_RADIUS = 2
# Shares of the field: coloured blobs above this are colour flow; coloured pixels above the
# second (after blobs) are colour in the field. A few coloured pixels are a marker or a glitch.
_FLOW_SHARE = 0.002
_COLOUR_SHARE = 0.0005

# Speckle -----------------------------------------------------------------------------------------
_BLOCK = 16
# A block counts when this share of its pixels lies in the field.
_BLOCK_IN_FIELD = 0.75
# Blocks darker than this (mean grey) are echo-free tissue or background: they say nothing.
_DARK_MEAN = 24.0
# A pixel is flat when its 3x3 neighbourhood spans at most this many grey levels.
_FLAT_SPREAD = 1.0
# Blocks this flat are uniform panels (UI, backdrops): not judged either, so that a field with some
# UI around the scan still passes; what is drawn on the panels (text, lines) is judged.
_UNIFORM_FLAT = 0.95
# Detail: the RMS of each pixel minus its 3x3 mean, in grey levels. Speckle has more than the first
# with few flat pixels; smooth blocks have at most the second. Real B-mode blocks (971 frames):
# 99.9% above 2.4 levels, 99% under 16% flat pixels; upscaled MR/CT slices: 99% under 1.0. The gap
# leaves room for scanners' speckle reduction (a 1-pixel Gaussian or a 5 x 5 median on a 512-pixel
# frame still passes; 1.5 pixels and more do not).
_SPECKLE_DETAIL = 1.5
_SMOOTH_DETAIL = 1.2
_SPECKLE_FLAT = 0.3
# The field is flagged when fewer than this share of its judged blocks are speckle, or more than the
# second are smooth. The second catches a viewer with a B-mode pane beside smooth ones (an MRI
# slice, a render), whose speckle share alone overlaps that of a scanner's screen with UI: the UI's
# text and ticks are not smooth. Real B-mode (971 frames): speckle in at least 98% of the judged
# blocks of the crop box (42% of the whole frame, UI included), smooth blocks none in the crop box
# (at most 5% of the whole frame).
_SPECKLE_SHARE = 0.5
_SMOOTH_SHARE = 0.2
_MIN_JUDGED_BLOCKS = 8
# check_screen: smooth shading in more than this share of the lit screen around the field. On
# ../shared/data's 971 real frames the most is 21% (one muscle-us screen); a four-pane viewer
# around its ultrasound pane shows 55%, a 3-D render's window 36%, an MR slice's 100%.
_SCREEN_SMOOTH = 0.3


@dataclass(frozen=True)
class Flag:
    code: str  # "colour-flow" | "colour-in-field" | "not-ultrasound" | "modality"
    reason: str  # one sentence for the ingest report


@dataclass(frozen=True)
class _Texture:
    """Block counts of the field's grey working copy."""

    judged: int  # blocks in the field, lit (not echo-free) and not a uniform panel
    speckle: int  # of which speckle-like
    smooth: int  # of which smooth (little high-frequency energy, not flat)


def check_bmode(
    frame: np.ndarray, field: np.ndarray | None = None, *, modality: str | None = None
) -> list[Flag]:
    """What keeps `frame` from being plain grayscale B-mode; an empty list when nothing does.

    frame: uint8 H x W or H x W x 3, the whole decoded frame. field: bool H x W mask of the imaging
    field in frame coordinates (None: the whole frame). modality: the DICOM Modality, None for
    ordinary image files. Every flag that applies is returned, the modality's first.
    """
    frame, field = _validated(frame, field)
    flags: list[Flag] = []
    # An empty Modality (a blank DICOM element) says nothing, like an ordinary image file.
    if modality and modality.strip() and modality.strip().upper() != "US":
        flags.append(Flag("modality", f"DICOM Modality {modality.strip()}, not ultrasound (US)"))
    small, inside = _working_copy(frame, field)
    if not inside.any():
        return flags
    if small.ndim == 3:
        flags.extend(_colour_flags(small, inside))
        grey = _luma(small)
    else:
        grey = small.astype(np.float32)
    flags.extend(_texture_flags(grey, inside))
    return flags


def check_screen(frame: np.ndarray, field: np.ndarray) -> list[Flag]:
    """Whether the screen around the field is an application's window rather than a scanner's.

    A B-mode pane cut out of a multi-pane viewer beside CT or MR slices or a 3-D render is
    tissue, but not a scanner's export. A scanner's own screen around its field is black, flat
    panels and text; smooth shading there means other images. Judged only on enough lit blocks.
    """
    frame, field = _validated(frame, field)
    small, inside = _working_copy(frame, field)
    grey = _luma(small) if small.ndim == 3 else small.astype(np.float32)
    texture = _texture(grey, ~inside)
    if texture.judged < _MIN_JUDGED_BLOCKS or texture.smooth / texture.judged <= _SCREEN_SMOOTH:
        return []
    return [
        Flag(
            "not-ultrasound",
            f"the screen around the field shows smooth shading in "
            f"{texture.smooth / texture.judged:.0%} of its lit area (other images: CT or MR "
            "panes, a 3-D render?): an application's window, not a scanner's screen",
        )
    ]


def _validated(frame: np.ndarray, field: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if frame.dtype != np.uint8 or not (
        frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)
    ):
        raise ValueError(
            f"expected uint8 H x W or H x W x 3 pixels, got {frame.dtype} {frame.shape}"
        )
    if field is None:
        return frame, np.ones(frame.shape[:2], dtype=bool)
    if field.shape != frame.shape[:2]:
        raise ValueError(f"field mask {field.shape} does not match the frame {frame.shape[:2]}")
    return frame, field.astype(bool, copy=False)


def _working_copy(frame: np.ndarray, field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frame and its field box-averaged so that no side exceeds _WORK_SIDE."""
    factor = max(1, math.ceil(max(frame.shape[:2]) / _WORK_SIDE))
    if factor == 1:
        return frame, field
    small = np.asarray(PIL.Image.fromarray(frame).reduce(factor))
    # A working pixel is inside when most of the pixels it averages are.
    share = np.asarray(PIL.Image.fromarray(field.astype(np.uint8) * 255).reduce(factor))
    return small, share > 127


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


# Colour ------------------------------------------------------------------------------------------


def _colour_flags(rgb: np.ndarray, inside: np.ndarray) -> list[Flag]:
    coloured = _coloured(rgb, inside)
    field_pixels = int(inside.sum())
    if coloured.sum() < _COLOUR_SHARE * field_pixels:
        return []
    structure = ndimage.generate_binary_structure(2, 1)
    blobs = ndimage.binary_opening(coloured, structure, iterations=_BLOB_RADIUS)
    blob_share = blobs.sum() / field_pixels
    if blob_share >= _FLOW_SHARE:
        return [
            Flag(
                "colour-flow",
                f"saturated colour in {_percent(coloured.sum() / field_pixels)} of the field "
                "(colour Doppler or elastography overlay?)",
            )
        ]
    return [
        Flag(
            "colour-in-field",
            f"saturated colour in {_percent(coloured.sum() / field_pixels)} of the field, "
            "not in flow-like areas (coloured annotations or markers?)",
        )
    ]


def _coloured(rgb: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Field pixels whose chroma lies far from the frame's colour map at their luminance."""
    pixels = rgb.astype(np.float32)
    luma = _luma(rgb)
    cb, cr = pixels[..., 2] - luma, pixels[..., 0] - luma
    bins = np.minimum((luma * (_LUMA_BINS / 256.0)).astype(np.intp), _LUMA_BINS - 1)
    map_cb, map_cr = _colour_map(bins[inside], cb[inside], cr[inside])
    bin_luma = (np.arange(_LUMA_BINS) + 0.5) * (256.0 / _LUMA_BINS)
    cap = (_TINT_SLOPE * bin_luma + _TINT_BASE) / np.maximum(np.hypot(map_cb, map_cr), 1e-6)
    map_cb, map_cr = map_cb * np.minimum(cap, 1), map_cr * np.minimum(cap, 1)
    distance = np.hypot(cb - map_cb[bins], cr - map_cr[bins])
    return inside & (distance > _COLOUR_DISTANCE)


def _colour_map(bins: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per luminance bin, the median (Cb, Cr) of its least chromatic pixels; thin bins
    interpolated from their neighbours.

    Under a tint every pixel of a bin has about the same chroma, so any share of them gives the
    tint; where Doppler colours crowd a bin, its least chromatic pixels are still the grey ones.
    """
    order = np.argsort(bins, kind="stable")
    bins, cb, cr = bins[order], cb[order], cr[order]
    edges = np.searchsorted(bins, np.arange(_LUMA_BINS + 1))
    centres, map_cb, map_cr = [], [], []
    for index in range(_LUMA_BINS):
        start, end = edges[index], edges[index + 1]
        if end - start >= _BIN_MIN_PIXELS:
            cb_bin, cr_bin = cb[start:end], cr[start:end]
            magnitude = np.hypot(cb_bin, cr_bin)
            calm = magnitude <= np.percentile(magnitude, _MAP_PERCENTILE)
            centres.append(index)
            map_cb.append(np.median(cb_bin[calm]))
            map_cr.append(np.median(cr_bin[calm]))
    if not centres:
        return np.zeros(_LUMA_BINS), np.zeros(_LUMA_BINS)
    every = np.arange(_LUMA_BINS)
    return np.interp(every, centres, map_cb), np.interp(every, centres, map_cr)


# Speckle -----------------------------------------------------------------------------------------


def _texture_flags(grey: np.ndarray, inside: np.ndarray) -> list[Flag]:
    texture = _texture(grey, inside)
    if texture.judged < _MIN_JUDGED_BLOCKS:
        # Too little of the field is textured and lit to judge (a tiny or all-dark field).
        return []
    speckle = texture.speckle / texture.judged
    smooth = texture.smooth / texture.judged
    if speckle >= _SPECKLE_SHARE and smooth <= _SMOOTH_SHARE:
        return []
    return [
        Flag(
            "not-ultrasound",
            f"the field does not look like B-mode ultrasound: speckle in {speckle:.0%} and smooth "
            f"shading in {smooth:.0%} of its lit area (an application screenshot, a 3-D render or "
            "another modality?)",
        )
    ]


def _texture(grey: np.ndarray, inside: np.ndarray) -> _Texture:
    """Count the field's judged blocks (lit, not a uniform panel): all, speckle-like, smooth."""
    squared_detail = (grey - ndimage.uniform_filter(grey, size=3, mode="reflect")) ** 2
    spread = ndimage.maximum_filter(grey, size=3) - ndimage.minimum_filter(grey, size=3)
    rows, cols = grey.shape[0] // _BLOCK, grey.shape[1] // _BLOCK

    def per_block(values: np.ndarray) -> np.ndarray:
        cut = values[: rows * _BLOCK, : cols * _BLOCK].astype(np.float32, copy=False)
        return cut.reshape(rows, _BLOCK, cols, _BLOCK).mean(axis=(1, 3))

    in_field = per_block(inside) >= _BLOCK_IN_FIELD
    flat = per_block(spread <= _FLAT_SPREAD)
    judged = in_field & (per_block(grey) >= _DARK_MEAN) & (flat < _UNIFORM_FLAT)
    detail = np.sqrt(per_block(squared_detail))
    return _Texture(
        judged=int(judged.sum()),
        speckle=int((judged & (detail > _SPECKLE_DETAIL) & (flat < _SPECKLE_FLAT)).sum()),
        smooth=int((judged & (detail <= _SMOOTH_DETAIL)).sum()),
    )


def _percent(share: float) -> str:
    return f"{share:.1%}" if share < 0.1 else f"{share:.0%}"
