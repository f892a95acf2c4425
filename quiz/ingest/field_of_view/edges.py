"""The straight edges of a rectangle or parallelogram, made exact.

Straight edges are pushed out over dark, flat field at the edge (echo-free depth, a shadow, never
the screen's own background level), then pinned at full resolution: walking outwards, a line of
field pixels has a spread of grey levels (median absolute deviation); a ruler line, a row of
sparse ticks or glyphs, or a panel has none. Ruler ticks that reach a few pixels into the field
from its top, bottom or (rectangle) side edge are cut off by moving that edge in: three or more
thin strokes at right angles to the edge, touching it, at one level and at multiples of one
spacing. A sector's curved edges keep their fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from quiz.ingest.field_of_view.cues import DARK_LEVEL, TEXTURE_STD, Cues, opening_radius

# Ruler ticks at the field's edge: thin strokes this much brighter than the pixels _TICK_REACH to
# either side, at least _TICK_MIN_LENGTH long, in a band of at most _TICK_DEPTH of the field.
_TICK_CONTRAST = 40
_TICK_REACH = 4
_TICK_MIN_LENGTH = 3
_TICK_DEPTH = 0.03
# Ticks of one ruler sit at multiples of one spacing (within this share of it) and one level.
_TICK_REGULARITY = 0.15
_TICK_LEVEL_SPREAD = 25


def extend_into_dark(cues: Cues, shape: str, params: dict[str, float]) -> dict[str, float]:
    """Push straight edges out over dark, flat field: echo-free tissue or a shadow at the edge.

    Texture stops where the echo does, which at a field's edge may be well inside it (a deep
    field that fades out, an acoustic shadow along one side). A line just outside the edge is
    still field when nearly all of it is textured or dark but not at the screen's own background
    level (the most common level). Only the frame, a panel, a ruler line or background stops it.
    """
    level = cues.level
    height, width = level.shape
    background = float(np.argmax(np.bincount(np.round(level).astype(np.int64).ravel())))
    dark = (np.abs(level - background) >= 2.5) & (level < DARK_LEVEL)
    field_like = cues.textured | dark
    extended = dict(params)
    slope = params["slope"]

    def row_is_field(y: int) -> bool:
        low = max(extended["left"] + slope * (y + 0.5), extended["left_clamp"], 0)
        high = min(extended["right"] + slope * (y + 0.5), extended["right_clamp"], width)
        segment = field_like[y, int(math.ceil(low)) : int(high)]
        return len(segment) > 0 and segment.mean() >= 0.8

    def column_is_field(x: int) -> bool:
        segment = field_like[int(extended["top"]) : int(extended["bottom"]), x]
        return len(segment) > 0 and segment.mean() >= 0.8

    while extended["top"] >= 1 and row_is_field(int(extended["top"]) - 1):
        extended["top"] -= 1
    while extended["bottom"] < height and row_is_field(int(extended["bottom"])):
        extended["bottom"] += 1
    if shape == "rectangle":
        while extended["left"] >= 1 and column_is_field(int(extended["left"]) - 1):
            extended["left"] -= 1
        while extended["right"] < width and column_is_field(int(extended["right"])):
            extended["right"] += 1
    return extended


def pin_edges(
    gray: np.ndarray,
    params: dict[str, float],
    factor: int,
    analysis_size: tuple[int, int],
) -> dict[str, float]:
    """Move each straight edge, at full resolution, to the last line that is still field.

    The analysis copy places an edge within a few shrunk pixels, and its opening leaves a sliver of
    a ruler or tick row that touches the field. Lines parallel to the edge (slanted for a steered
    side), walked outwards from inside the field: a line of field pixels has a spread of grey
    levels (median absolute deviation); a ruler line, a row of sparse ticks or a panel has none.
    """
    height, width = gray.shape
    slope = params["slope"]  # x per y, the same in analysis and full coordinates
    left, right = params["left"] * factor, params["right"] * factor
    top, bottom = params["top"] * factor, params["bottom"] * factor
    # The analysis edge can sit up to the texture window's reach plus the opening's diameter
    # outside the field (a ruler a few pixels off the edge merges with it): start that far inside.
    inner = (2 * opening_radius(analysis_size) + 4) * factor
    outer = 2 * factor + 3
    span_y = np.arange(int(top + 0.1 * (bottom - top)), int(bottom - 0.1 * (bottom - top)), 2)
    pinned = dict(params)

    def spread(xs: np.ndarray, ys: np.ndarray) -> float:
        inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
        if inside.sum() < 8:
            return 0.0
        values = gray[ys[inside], xs[inside]]
        return float(np.median(np.abs(values - np.median(values))))

    def walk(line_at: Callable, start: float, outward: int) -> float:
        """The edge found by walking outwards from `inner` pixels inside `start`."""
        offsets = np.arange(-inner, outer + 1)
        spreads = np.array([spread(*line_at(start + outward * o)) for o in offsets])
        reference = float(np.median(spreads[:3]))
        if reference <= TEXTURE_STD:
            return start  # the field's edge is dark here: nothing to pin it by
        field_like = spreads >= max(TEXTURE_STD / 2, 0.2 * reference)
        # The last field line, not the first flat one: a saturated echo band inside the field is
        # flat too, but speckle follows it; beyond the edge only sparse ticks and glyphs do.
        last = int(np.flatnonzero(field_like)[-1]) if field_like.any() else -1
        if last < 0:
            return start
        # The edge sits after the last field line: one pixel past it, in the outward direction.
        return start + outward * (offsets[last] + (1 if outward > 0 else 0))

    def side_line(rows: np.ndarray) -> Callable:
        def line_at(position: float) -> tuple[np.ndarray, np.ndarray]:
            return np.round(position + slope * rows).astype(int), rows

        return line_at

    # A steered side is pinned along its slanted part only, not where the frame's edge clamps it.
    left_rows = span_y[left + slope * span_y >= params["left_clamp"] * factor + 2]
    right_rows = span_y[right + slope * span_y <= params["right_clamp"] * factor - 2]
    if len(left_rows) >= 8:
        pinned["left"] = walk(side_line(left_rows), left, -1) / factor
    if len(right_rows) >= 8:
        pinned["right"] = walk(side_line(right_rows), right - 1, +1) / factor

    def row_line(position: float) -> tuple[np.ndarray, np.ndarray]:
        row = int(round(position))
        lo = max(pinned["left"] * factor + slope * row, pinned["left_clamp"] * factor)
        hi = min(pinned["right"] * factor + slope * row, pinned["right_clamp"] * factor)
        xs = np.arange(int(lo + 0.1 * (hi - lo)), int(hi - 0.1 * (hi - lo)), 2)
        return xs, np.full(len(xs), row)

    pinned["top"] = walk(row_line, top, -1) / factor
    pinned["bottom"] = walk(row_line, bottom - 1, +1) / factor
    return pinned


def trim_ticks(
    gray: np.ndarray, shape: str, params: dict[str, float], factor: int
) -> dict[str, float]:
    """Pull a straight edge in past the ruler ticks that reach into the field from it.

    A ruler drawn along the field's edge often puts its ticks a few pixels into the field: thin
    strokes at right angles to the edge, all at one level and at multiples of one spacing, which
    the pinning walk keeps (the lines they cross are textured between them). The top and bottom
    edges are tried (horizontal in every straight shape), and the sides of a rectangle.
    """
    height, width = gray.shape
    slope = params["slope"]
    trimmed = dict(params)
    top, bottom = params["top"] * factor, params["bottom"] * factor
    depth = max(12, round(_TICK_DEPTH * (bottom - top)))

    def columns_at(row: float) -> tuple[int, int]:
        lo = max(params["left"] * factor + slope * row, params["left_clamp"] * factor, 0)
        hi = min(params["right"] * factor + slope * row, params["right_clamp"] * factor, width)
        return int(math.ceil(lo)) + 2, int(hi) - 2

    def tick_length(band: np.ndarray) -> int:
        """How far ticks reach into `band` (row 0 on the edge, columns along it); 0 for none."""
        if band.shape[1] < 8 * _TICK_REACH or band.shape[0] < _TICK_MIN_LENGTH:
            return 0
        padded = np.pad(band, ((0, 0), (_TICK_REACH, _TICK_REACH)), mode="edge")
        sides = np.maximum(padded[:, : -2 * _TICK_REACH], padded[:, 2 * _TICK_REACH :])
        stroke = (band - sides >= _TICK_CONTRAST) & (band >= 2 * _TICK_CONTRAST)
        reach = np.cumprod(stroke, axis=0).sum(axis=0)
        labels, count = ndimage.label(reach >= _TICK_MIN_LENGTH)
        if count < 3:
            return 0
        spans = ndimage.find_objects(labels)
        if max(span[0].stop - span[0].start for span in spans) > _TICK_REACH:
            return 0  # a broad bright patch on the edge, not a row of thin ticks
        centres = np.array([(span[0].start + span[0].stop) / 2 for span in spans])
        levels = np.array([float(np.median(band[0, span[0]])) for span in spans])
        gaps = np.diff(centres)
        unit = float(np.min(gaps))
        multiples = gaps / unit
        regular = np.all(np.abs(multiples - np.round(multiples)) <= _TICK_REGULARITY)
        if unit < 3 * _TICK_REACH or not regular or np.ptp(levels) > _TICK_LEVEL_SPREAD:
            return 0
        return int(reach[labels > 0].max())

    # Bands read from the edge inwards: row 0 is the field's outermost line.
    row = int(round(bottom)) - 1
    lo, hi = columns_at(row)
    cut = tick_length(gray[max(0, row - depth + 1) : row + 1, lo:hi][::-1])
    trimmed["bottom"] = (row + 1 - cut) / factor
    row = int(round(top))
    lo, hi = columns_at(row)
    cut = tick_length(gray[row : row + depth, lo:hi])
    trimmed["top"] = (row + cut) / factor
    if shape == "rectangle":
        rows = slice(int(top) + 2, int(bottom) - 2)
        side_depth = max(12, round(_TICK_DEPTH * (params["right"] - params["left"]) * factor))
        column = int(round(params["left"] * factor))
        cut = tick_length(gray[rows, column : column + side_depth].T)
        trimmed["left"] = (column + cut) / factor
        column = int(round(params["right"] * factor)) - 1
        cut = tick_length(gray[rows, max(0, column - side_depth + 1) : column + 1][:, ::-1].T)
        trimmed["right"] = (column + 1 - cut) / factor
    return trimmed
