"""The field's shape fitted to the candidate: rectangle, steered parallelogram or sector.

The rows of the candidate's body (well covered, in one run: a line of text touching the field is
covered in patches) give a left and a right side line: robust straight-line fits with outlier
rows dropped, and for a steered field cut by the screen's edge a slanted line clamped to a
vertical one. Each shape the lines allow is drawn and compared with the candidate (IoU):
rectangle; parallelogram (steered linear: parallel slanted sides); sector (sides that diverge
downwards, apex where they meet, inner and outer arcs at the median distance of the candidate's
top and bottom edge from the apex; a sector may also claim flat, faint depth just above the
black screen). A slanted or curved shape must match clearly better than the rectangle.

Rectangle and parallelogram share one set of parameters (left and right offsets along a common
slope, zero for the rectangle, a clamp where the frame's edge cuts a steered side, top and
bottom); a sector has its apex, the angles of its sides and the radii of its arcs. Parameters
are in analysis coordinates; `render` draws a shape at any scale.
"""

from __future__ import annotations

import math

import numpy as np

from quiz.ingest.field_of_view.cues import WINDOW_REACH

# Side lines (slopes in pixels across per pixel down) that slant less than this are vertical.
_VERTICAL = 0.02
# Side slopes further apart than this are no steered field (whose sides are parallel, but whose
# fitted slopes a cut corner or a dark stretch of edge can bend).
_STEER_DISAGREEMENT = 0.15
# A sector opens at least this wide (radians; curvilinear probes open 40-70 degrees, phased 90).
_SECTOR_ANGLE = 0.35


def fit_shape(candidate: np.ndarray, extension: np.ndarray) -> tuple[str, dict[str, float]]:
    """Rectangle, parallelogram or sector fitted to the candidate (analysis coordinates).

    Each shape that the side lines allow is drawn and compared with the candidate; a slanted or
    curved shape must match the candidate clearly better than the plain rectangle to be chosen.
    """
    rows, first, last, body = _body_rows(candidate)
    y, left_x, right_x = rows[body] + 0.5, first[body].astype(float), last[body] + 1.0
    top, bottom = float(rows[body][0]), float(rows[body][-1] + 1)
    options = [
        (
            "rectangle",
            {
                "slope": 0.0,
                "left": float(np.median(left_x)),
                "right": float(np.median(right_x)),
                "top": top,
                "bottom": bottom,
                "left_clamp": -math.inf,
                "right_clamp": math.inf,
            },
        )
    ]
    left_a, left_b, left_clamp = _fit_side(y, left_x, -1)
    right_a, right_b, right_clamp = _fit_side(y, right_x, +1)
    # A steered field's sides are parallel; when one side's fit is bent (a corner cut off, a dark
    # stretch of edge), each side's slope and their mean are tried as the common slope.
    if abs(right_a - left_a) <= _STEER_DISAGREEMENT:
        free_left = left_x > left_clamp + 1.5
        free_right = right_x < right_clamp - 1.5
        for slope in {left_a, right_a, (left_a + right_a) / 2}:
            if abs(slope) <= _VERTICAL or not free_left.any() or not free_right.any():
                continue
            options.append(
                (
                    "parallelogram",
                    {
                        "slope": slope,
                        # The intercepts with the common slope: the median offset of free rows.
                        "left": float(np.median((left_x - slope * y)[free_left])),
                        "right": float(np.median((right_x - slope * y)[free_right])),
                        "top": top,
                        "bottom": bottom,
                        "left_clamp": left_clamp,
                        "right_clamp": right_clamp,
                    },
                )
            )
    scores = [
        _iou(render(shape, params, 1, candidate.shape), candidate) for shape, params in options
    ]
    # A sector is fitted to the candidate, and to the candidate with the faded depth around it
    # (which only a sector may claim), each judged against the region it was fitted to.
    for region in (candidate, candidate | extension) if extension.any() else (candidate,):
        sector = _fit_sector(region)
        if sector is not None:
            options.append(("sector", sector[0]))
            scores.append(sector[1])
    best = int(np.argmax(scores))
    if scores[best] < scores[0] + 0.02:
        best = 0
    return options[best]


def _body_rows(region: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The region's rows, their first and last pixel, and which rows make up the field's body.

    The side lines and the top and bottom come from the body; rows that are thinly covered (the
    arcs of a sector) or covered in patches (a line of text that touches the field) would bend
    them. The body is the longest run of well-covered rows.
    """
    rows = np.flatnonzero(region.any(axis=1))
    first = np.argmax(region[rows], axis=1)
    last = region.shape[1] - 1 - np.argmax(region[rows, ::-1], axis=1)
    coverage = region[rows].sum(axis=1)
    solid = (coverage >= 0.3 * np.median(coverage)) & (coverage >= 0.6 * (last - first + 1))
    # Runs of solid rows that are also consecutive rows of the image.
    breaks = np.flatnonzero(~solid | np.r_[True, np.diff(rows) > 1])
    starts = np.r_[breaks, len(rows)]
    lengths = np.diff(starts)
    longest = int(np.argmax(lengths))
    begin = starts[longest] + (0 if solid[starts[longest]] else 1)
    body = np.zeros(len(rows), dtype=bool)
    body[begin : starts[longest + 1]] = True
    return rows, first, last, body & solid


def _fit_side(y: np.ndarray, x: np.ndarray, outward: int) -> tuple[float, float, float]:
    """One side of the field: x = a * y + b, optionally clamped where the frame's edge cut it.

    A steered field wider than the screen loses a corner: its side runs slanted, then straight
    down. `outward` is -1 for the left side and +1 for the right; the clamp is +-inf when none.
    """
    a, b = _fit_line(y, x)
    plain = float(np.median(np.abs(x - (a * y + b))))
    limit = float(np.percentile(x, 90 if outward > 0 else 10))
    flat = outward * (x - limit) >= -3
    if 0.15 <= flat.mean() <= 0.85:
        hinge_a, hinge_b = _fit_line(y[~flat], x[~flat])
        line = hinge_a * y + hinge_b
        model = np.minimum(line, limit) if outward > 0 else np.maximum(line, limit)
        if abs(hinge_a) > _VERTICAL and float(np.median(np.abs(x - model))) < 0.6 * plain:
            return hinge_a, hinge_b, limit
    return a, b, outward * math.inf


def _fit_line(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """x = a * y + b fitted to the points, dropping outliers (rows where UI or shadow bends it)."""
    keep = np.ones(len(y), dtype=bool)
    a, b = 0.0, float(np.median(x))
    for _ in range(4):
        if keep.sum() < 2:
            break
        a, b = np.polyfit(y[keep], x[keep], 1)
        residual = np.abs(x - (a * y + b))
        spread = max(1.0, 1.5 * float(np.median(residual[keep])))
        keep = residual <= 3 * spread
    return float(a), float(b)


def _fit_sector(region: np.ndarray) -> tuple[dict[str, float], float] | None:
    """A sector fitted to the region and how well it matches (IoU); None if the sides do not
    diverge like a curvilinear or phased-array field's."""
    rows, first, last, body = _body_rows(region)
    # The sides from the middle of the body: near the top the inner arc's corners and a fading
    # echo round the edge off, lower down the outer arc turns it inwards.
    order = np.cumsum(body)
    upper = body & (order > 0.1 * body.sum()) & (order <= 0.6 * body.sum())
    y = rows[upper] + 0.5
    # The texture window reaches WINDOW_REACH pixels past the field: the candidate's sides sit
    # that far out (measured square to each side), its arcs that far in and out.
    left_a, left_b = _fit_line(y, first[upper].astype(float))
    right_a, right_b = _fit_line(y, last[upper] + 1.0)
    left_b += WINDOW_REACH * math.hypot(1, left_a)
    right_b -= WINDOW_REACH * math.hypot(1, right_a)
    left_angle, right_angle = math.atan(left_a), math.atan(right_a)
    if right_angle - left_angle < _SECTOR_ANGLE:
        return None
    apex_y = (left_b - right_b) / (right_a - left_a)
    apex_x = left_a * apex_y + left_b
    top = float(rows[body][0])
    if apex_y > top + 0.05 * region.shape[0]:
        return None  # sides that meet inside the field: not a sector
    columns = np.flatnonzero(region.any(axis=0))
    column_top = np.argmax(region[:, columns], axis=0)
    column_bottom = region.shape[0] - np.argmax(region[::-1, columns], axis=0)
    # The arcs from the columns around the sector's axis only: further out a column's top or
    # bottom lies on a side (for a phased array, whose inner arc is the apex itself, all but the
    # central columns' tops do).
    x = columns + 0.5
    axis, span = (left_angle + right_angle) / 2, right_angle - left_angle
    top_angle = np.arctan2(x - apex_x, column_top - apex_y)
    bottom_angle = np.arctan2(x - apex_x, column_bottom - apex_y)
    near_axis_top = np.abs(top_angle - axis) <= 0.2 * span
    near_axis_bottom = np.abs(bottom_angle - axis) <= 0.3 * span
    if not near_axis_top.any() or not near_axis_bottom.any():
        return None
    inner = np.hypot(x - apex_x, column_top - apex_y)[near_axis_top]
    reach = np.hypot(x - apex_x, column_bottom - apex_y)
    outer = reach[near_axis_bottom]
    clipped = column_bottom >= region.shape[0]
    if clipped[near_axis_bottom].mean() > 0.5:
        # The frame cuts the sector off above its outer arc: the arc lies at least as far out as
        # the farthest of the field's pixels along the frame's bottom edge.
        outer = np.array([reach[clipped].max() + WINDOW_REACH])
    params = {
        "apex_x": apex_x,
        "apex_y": apex_y,
        # Angles from straight down, positive to the right (the sides' directions).
        "left_angle": left_angle,
        "right_angle": right_angle,
        "inner": max(0.0, float(np.median(inner)) + WINDOW_REACH),
        "outer": float(np.median(outer)) - WINDOW_REACH,
    }
    return params, _iou(render("sector", params, 1, region.shape), region)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def render(shape: str, params: dict[str, float], factor: int, size: tuple[int, int]) -> np.ndarray:
    """The fitted shape as a frame-sized bool mask (parameters in analysis coordinates)."""
    height, width = size
    y = (np.arange(height, dtype=np.float32)[:, None] + 0.5) / factor
    x = (np.arange(width, dtype=np.float32)[None, :] + 0.5) / factor
    if shape == "sector":
        dx, dy = x - params["apex_x"], y - params["apex_y"]
        angle = np.arctan2(dx, dy)
        radius = np.hypot(dx, dy)
        return (
            (angle >= params["left_angle"])
            & (angle <= params["right_angle"])
            & (radius >= params["inner"])
            & (radius <= params["outer"])
            & (dy > 0)
        )
    shift = x - params["slope"] * y
    return (
        (shift >= params["left"])
        & (shift < params["right"])
        & (x >= params["left_clamp"])
        & (x < params["right_clamp"])
        & (y >= params["top"])
        & (y < params["bottom"])
    )
