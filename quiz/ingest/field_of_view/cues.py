"""Per-pixel cues that tell a scanner's imaging field from its screen, and the field candidate.

All on the analysis copy (block means of factor x factor pixels):

- *Texture*: the standard deviation of the grey level in a 5x5 neighbourhood; ultrasound speckle
  varies everywhere, UI panels, borders and backgrounds are flat.
- *Colour*: the spread between the RGB channels; colour bars and coloured UI are saturated (a
  colour-Doppler map inside the field is too, but it is enclosed by tissue and comes back when
  the candidate's holes are filled).
- *Time*: with several frames, pixels that never change are UI or screen, and pixels that change
  at all are tissue, even where too faint to be textured (tissue and speckle move, text does not).

The field candidate: textured (in a loop: changing), unsaturated pixels, opened with a disk
(which cuts the thin bridges that rulers, ticks and text make to the field), the largest
connected component (scipy.ndimage.label), its holes filled (echo-free tissue, Doppler maps).
A sector may also claim the flat, faint depth just above the black screen (`dark_extension`).

The grey conversion, the disk and the opening's radius are shared with the later stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# Half the side of the texture window (5x5).
WINDOW_REACH = 2
# Standard deviation (grey levels) in a 5x5 neighbourhood above which a pixel is textured. Black
# screens, grey panels and compression noise stay below it; speckle, even dark speckle, does not.
TEXTURE_STD = 3.0
# Grey levels below this are dark: flat areas this dark next to the field may be faded echo
# (dark_extension, edges.extend_into_dark), and a mark on them lies on black (overlay).
DARK_LEVEL = 24
# RGB channel spread above which a pixel is coloured UI (grey ultrasound has none).
SATURATION = 40
# A pixel whose grey level changes by less than this over the frames is static (UI and screen
# stay exactly the same in a stored loop; the faintest tissue still flickers by a grey level).
_STATIC_STD = 0.25
# Fewer field pixels than this share of the analysis copy is no field at all.
_MIN_FIELD_SHARE = 0.02


@dataclass(frozen=True)
class Cues:
    level: np.ndarray  # float grey level (the brightest over the frames), analysis scale
    textured: np.ndarray  # bool, analysis scale
    saturated: np.ndarray  # bool, analysis scale
    static: np.ndarray | None  # bool, analysis scale; None for a single frame
    static_full: np.ndarray | None  # bool, full scale; None for a single frame


def pixel_cues(gray: list[np.ndarray], frames: list[np.ndarray], factor: int) -> Cues:
    small = [_shrink(g, factor) for g in gray]
    # A pixel textured in any frame counts.
    textured = np.max([_local_std(s, 2 * WINDOW_REACH + 1) for s in small], axis=0) > TEXTURE_STD
    if frames[0].ndim == 3:
        rgb = frames[0][..., :3].astype(np.int16)
        spread = (rgb.max(axis=2) - rgb.min(axis=2)).astype(np.float32)
        saturated = _shrink(spread, factor) > SATURATION
    else:
        saturated = np.zeros_like(textured)
    static = static_full = None
    if len(gray) > 1:
        static_full = np.std(gray, axis=0) < _STATIC_STD
        share = 1 - static_full.mean()
        # A loop in which almost nothing moves (a frozen or repeated frame) says nothing, nor does
        # one in which everything does (noise of an analogue capture over the whole screen).
        if _MIN_FIELD_SHARE < share < 1 - _MIN_FIELD_SHARE:
            static = _shrink(static_full.astype(np.float32), factor) > 0.5
        else:
            static_full = None
    # The brightest each pixel gets over the loop: faint, slow tissue at a sector's sides still
    # lights up in some frame, the screen around it never does.
    return Cues(np.max(small, axis=0), textured, saturated, static, static_full)


def field_candidate(cues: Cues) -> np.ndarray | None:
    """The largest solid textured area: the field before its shape is fitted."""
    content = cues.textured & ~cues.saturated
    if cues.static is not None:
        # In a loop, what changes is tissue even where it is too faint to be textured, and what
        # never changes is screen.
        content = ~cues.static & ~cues.saturated
    height, width = content.shape
    footprint = disk(opening_radius((height, width)))
    opened = ndimage.binary_opening(content, footprint)
    labels, count = ndimage.label(opened)
    if not count:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    largest = int(np.argmax(sizes))
    if sizes[largest] < _MIN_FIELD_SHARE * content.size:
        return None
    # Closing bridges speckle gaps along the edges; filling keeps echo-free tissue and Doppler maps.
    region = ndimage.binary_closing(labels == largest, footprint, border_value=0)
    return ndimage.binary_fill_holes(region)


def dark_extension(cues: Cues, region: np.ndarray) -> np.ndarray:
    """Flat, near-black areas next to the field that are not the screen's background.

    Deep in a sector the echo can fade to a flat level just above black; it is still field (the
    scanner draws it), while the screen around it sits at its own background level (the most
    common level). Grey panels are lighter than this and stay out. Only a sector's fit uses it
    (its faint depth and sides); straight edges have `extend_into_dark`.
    """
    level = cues.level
    background = float(np.argmax(np.bincount(np.round(level).astype(np.int64).ravel())))
    # A level just off the background counts only where it is exact (a drawn fill, no noise):
    # black screens that dither between 0 and 1 are background, however they average out.
    exact = _local_std(level, 5) < 0.05
    distinct = np.abs(level - background) >= np.where(exact, 0.75, 1.5)
    flat = ~cues.textured & distinct & (level < DARK_LEVEL)
    # The fade from echo to the flat level is neither exact nor far from black: bridge it.
    flat = ndimage.binary_closing(flat, np.ones((5, 5), dtype=bool)) | flat
    labels, count = ndimage.label(flat)
    if not count:
        return np.zeros_like(region)
    touching = np.unique(labels[ndimage.binary_dilation(region, iterations=2) & flat])
    return np.isin(labels, touching[touching > 0])


def to_gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 3:
        return frame[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return frame.astype(np.float32)


def _shrink(values: np.ndarray, factor: int) -> np.ndarray:
    """Block means of factor x factor pixels (the ragged last rows and columns dropped)."""
    if factor == 1:
        return values
    height, width = (values.shape[0] // factor) * factor, (values.shape[1] // factor) * factor
    blocks = values[:height, :width].reshape(height // factor, factor, width // factor, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def _local_std(values: np.ndarray, size: int) -> np.ndarray:
    mean = ndimage.uniform_filter(values, size)
    mean_square = ndimage.uniform_filter(values * values, size)
    return np.sqrt(np.maximum(mean_square - mean * mean, 0))


def opening_radius(size: tuple[int, int]) -> int:
    return max(2, round(0.008 * max(size)))


def disk(radius: int) -> np.ndarray:
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius
