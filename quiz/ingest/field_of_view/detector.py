"""Find the imaging field of view on a scanner screen: its box, its shape and the UI drawn over it.

`find_field_of_view(frames)` looks at the frames of one file (one still, or several frames of a
cine loop) and returns a `FieldOfView`: the bounding box of the imaging field, a mask when the
field is not a plain rectangle (steered linear probes give a parallelogram, curvilinear and
phased-array probes a sector), the largest axis-aligned rectangle inside the field and the UI
pixels (calipers, markers, text) that are drawn over the field itself.

How, one stage per module of this package (each module's docstring has the details). The cues
and the shape are found on a copy shrunk by an integer factor to at most `_ANALYSIS_SIDE` pixels
a side; the edges are pinned and the overlay is found at full resolution.

1. `cues`: per pixel, texture, colour and (in a loop) change over the frames; from them the field
   candidate, the largest solid area of textured, unsaturated pixels.
2. `shapes`: rectangle, steered parallelogram or sector, whichever matches the candidate best (a
   slanted or curved shape must match clearly better than the rectangle). The fitted shape, not
   the candidate, becomes the mask, so a marker or a glyph that touches the field's edge is left
   out.
3. `edges`: straight edges pushed out over dark, flat field, pinned where the field's speckle
   ends, and pulled in past the ruler ticks that reach into the field.
4. `overlay`: the scanner's marks inside the mask (calipers, icons, drawn lines, marks over the
   edge, colour scales, and in a loop what stays put).
5. `rectangles`: the largest axis-aligned rectangle inside the field (`inscribed`); where an
   overlay was found, the largest one clear of it, so panels and training never see the marks.

A time budget bounds the work: between stages the elapsed time is checked; once it has run out,
the box of the rows and columns densely covered by the candidate (or by textured pixels) is
returned with a note saying so, or, before the overlay search, the fitted field without it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from quiz.ingest.decoding import Rejected
from quiz.ingest.field_of_view.cues import dark_extension, field_candidate, pixel_cues, to_gray
from quiz.ingest.field_of_view.edges import extend_into_dark, pin_edges, trim_ticks
from quiz.ingest.field_of_view.overlay import find_overlay
from quiz.ingest.field_of_view.rectangles import clear_rectangle, inscribed_rectangle
from quiz.ingest.field_of_view.shapes import fit_shape, render

__all__ = ["FieldOfView", "find_field_of_view"]


# The analysis copy is at most this many pixels on its longer side (integer shrink factor).
_ANALYSIS_SIDE = 512
# At most this many frames of a cine loop are compared (evenly spaced).
_MAX_FRAMES = 8
# The rectangle clear of overlay marks is taken only when it is at least this many pixels on
# each side (ingest's smallest image).
_MIN_CLEAR_SIDE = 32
# A field this close to the whole frame (each side within 1 %) is the whole frame.
_WHOLE_MARGIN = 0.01


@dataclass(frozen=True)
class FieldOfView:
    box: tuple[int, int, int, int]  # (left, top, right, bottom) of the imaging field, frame coords
    mask: np.ndarray | None  # bool, box-sized: True inside the field; None for a plain rectangle
    shape: str  # "rectangle" | "parallelogram" | "sector" | "whole" (nothing cropped)
    inscribed: tuple[int, int, int, int]  # largest axis-aligned rectangle in the field, box coords
    overlay: np.ndarray | None  # bool, box-sized: UI drawn over the field itself; None if none
    note: str  # "" or why a fallback was used

    def in_frame(self, height: int, width: int) -> np.ndarray:
        """The field as a bool mask of the whole height x width frame."""
        left, top, right, bottom = self.box
        field = np.zeros((height, width), dtype=bool)
        field[top:bottom, left:right] = True if self.mask is None else self.mask
        return field


def find_field_of_view(frames: Sequence[np.ndarray], *, budget_s: float = 2.0) -> FieldOfView:
    """Locate the imaging field in the frames of one file; see the module docstring for how.

    frames: uint8 H x W or H x W x 3, all the same shape (several for a cine loop). Raises
    Rejected when no imaging field can be found at all.
    """
    started = time.perf_counter()
    if not len(frames):
        raise Rejected("no frames to find an imaging field in")
    chosen = [
        frames[int(i)] for i in np.linspace(0, len(frames) - 1, min(len(frames), _MAX_FRAMES))
    ]
    gray = [to_gray(frame) for frame in chosen]
    height, width = gray[0].shape
    factor = max(1, math.ceil(max(height, width) / _ANALYSIS_SIDE))
    cues = pixel_cues(gray, chosen, factor)

    def over_budget() -> bool:
        return time.perf_counter() - started > budget_s

    if over_budget():
        return _fallback(cues.textured, factor, (height, width), budget_s, "the texture stage")
    candidate = field_candidate(cues)
    if candidate is None:
        raise Rejected("no imaging field found (no textured area large enough for ultrasound)")
    if over_budget():
        return _fallback(candidate, factor, (height, width), budget_s, "finding the field")
    shape, params = fit_shape(candidate, dark_extension(cues, candidate))
    if shape in ("rectangle", "parallelogram"):
        params = extend_into_dark(cues, shape, params)
        params = pin_edges(gray[0], params, factor, candidate.shape)
        params = trim_ticks(gray[0], shape, params, factor)
    mask = render(shape, params, factor, (height, width))
    box = _bounding_box(mask)
    if box is None:
        raise Rejected("no imaging field found (the fitted field is empty)")
    left, top, right, bottom = box
    if _is_whole(box, (height, width)):
        return FieldOfView((0, 0, width, height), None, "whole", (0, 0, width, height), None, "")
    field = mask[top:bottom, left:right]
    inscribed = inscribed_rectangle(field)
    if over_budget():
        note = f"time budget of {budget_s:g} s ran out before the overlay search; none reported"
        return FieldOfView(box, _mask_or_none(field), shape, inscribed, None, note)
    overlay = find_overlay(gray, chosen, box, field, cues.static_full)
    if overlay is not None:
        # Panels and training look only inside `inscribed`: keep it clear of the scanner's marks,
        # unless so little is clear that the marks are more likely a misreading (ingest then
        # flags the marks left inside for staff to judge).
        clear = clear_rectangle(field & ~overlay)
        if clear is not None and min(clear[2] - clear[0], clear[3] - clear[1]) >= _MIN_CLEAR_SIDE:
            inscribed = clear
    return FieldOfView(box, _mask_or_none(field), shape, inscribed, overlay, "")


def _bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows) or not len(columns):
        return None
    return int(columns[0]), int(rows[0]), int(columns[-1] + 1), int(rows[-1] + 1)


def _is_whole(box: tuple[int, int, int, int], size: tuple[int, int]) -> bool:
    height, width = size
    left, top, right, bottom = box
    margin_x, margin_y = _WHOLE_MARGIN * width, _WHOLE_MARGIN * height
    return (
        left <= margin_x
        and top <= margin_y
        and right >= width - margin_x
        and bottom >= height - margin_y
    )


def _mask_or_none(field: np.ndarray) -> np.ndarray | None:
    return None if field.all() else field


def _fallback(
    region: np.ndarray,
    factor: int,
    size: tuple[int, int],
    budget_s: float,
    stage: str,
) -> FieldOfView:
    """The box of `region`'s dense rows and columns, when there is no time for a shape fit.

    Row and column profiles (the share of each that `region` covers) rather than the plain
    bounding box: lines of text and a ruler cover little of a row or column, the field most.
    """
    height, width = size
    box = _dense_box(region)
    if box is None:
        raise Rejected(
            f"time budget of {budget_s:g} s ran out in {stage} before any field was found"
        )
    left, top, right, bottom = (
        box[0] * factor,
        box[1] * factor,
        min(width, box[2] * factor),
        min(height, box[3] * factor),
    )
    note = (
        f"time budget of {budget_s:g} s ran out after {stage}; "
        f"the box is where textured content is dense (row and column profiles)"
    )
    shape = "whole" if _is_whole((left, top, right, bottom), size) else "rectangle"
    return FieldOfView(
        (left, top, right, bottom), None, shape, (0, 0, right - left, bottom - top), None, note
    )


def _dense_box(region: np.ndarray) -> tuple[int, int, int, int] | None:
    columns = region.mean(axis=0)
    horizontal = _longest_run(columns >= 0.5 * columns.max()) if columns.max() > 0 else None
    if horizontal is None:
        return None
    left, right = horizontal
    rows = region[:, left:right].mean(axis=1)
    top, bottom = _longest_run(rows >= 0.5 * rows.max())
    return left, top, right, bottom


def _longest_run(above: np.ndarray) -> tuple[int, int] | None:
    """[start, end) of the longest run of True; None when there is none."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], above.astype(np.int8), [0]))))
    if not len(edges):
        return None
    starts, ends = edges[0::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest])
