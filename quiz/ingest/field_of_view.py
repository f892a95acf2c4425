"""Find the imaging field of view on a scanner screen: its box, its shape and the UI drawn over it.

`find_field_of_view(frames)` looks at the frames of one file (one still, or several frames of a
cine loop) and returns a `FieldOfView`: the bounding box of the imaging field, a mask when the
field is not a plain rectangle (steered linear probes give a parallelogram, curvilinear and
phased-array probes a sector), the largest axis-aligned rectangle inside the field and the UI
pixels (calipers, markers, text) that are drawn over the field itself.

How (all on a copy shrunk by an integer factor to at most `_ANALYSIS_SIDE` pixels a side):

1. Cues per pixel. *Texture*: the standard deviation of the grey level in a 5x5 neighbourhood;
   ultrasound speckle varies everywhere, UI panels, borders and backgrounds are flat. *Colour*:
   the spread between the RGB channels; colour bars and coloured UI are saturated (a colour-Doppler
   map inside the field is too, but it is enclosed by tissue and comes back in step 2). *Time*:
   with several frames, pixels that never change are UI or screen, and pixels that change at all
   are tissue, even where too faint to be textured (tissue and speckle move, text does not).
2. Field candidate: textured (in a loop: changing), unsaturated pixels, opened with a disk
   (which cuts the thin bridges that rulers, ticks and text make to the field), the largest
   connected component (scipy.ndimage.label), its holes filled (echo-free tissue, Doppler maps).
3. Shape. The rows of the candidate's body (well covered, in one run: a line of text touching
   the field is covered in patches) give a left and a right side line: robust straight-line fits
   with outlier rows dropped, and for a steered field cut by the screen's edge a slanted line
   clamped to a vertical one. Each shape the lines allow is drawn and compared with the candidate
   (IoU): rectangle; parallelogram (steered linear: parallel slanted sides); sector (sides that
   diverge downwards, apex where they meet, inner and outer arcs at the median distance of the
   candidate's top and bottom edge from the apex; a sector may also claim flat, faint depth just
   above the black screen). A slanted or curved shape must match clearly better than the
   rectangle. The fitted shape, not the candidate, becomes the mask, so a marker or a glyph that
   touches the field's edge is left out.
4. Straight edges are pushed out over dark, flat field at the edge (echo-free depth, a shadow,
   never the screen's own background level), then pinned at full resolution: walking outwards, a
   line of field pixels has a spread of grey levels (median absolute deviation); a ruler line, a
   row of sparse ticks or glyphs, or a panel has none. Ruler ticks that reach a few pixels into
   the field from its top, bottom or (rectangle) side edge are cut off by moving that edge in:
   three or more thin strokes at right angles to the edge, touching it, at one level and at
   multiples of one spacing.
5. Overlay, inside the mask, where the cues separate drawn marks from tissue:
   - thin near-white strokes that repeat one grey level exactly and end sharply (every pixel
     around them well below that level: a bright fibre's crest fades into the fibre), and the
     whole of a bright mark made mostly of them (calipers, dots, glyphs);
   - icons framed by corner brackets: small, hollow, thin bright marks at three or four corners
     of one small square (found by shape, so also over bright tissue and on lossy screens),
     with the box they frame;
   - straight drawn lines: near-upright ones, dashed or solid (needle guides, dotted depth
     lines), from a vote over slopes and offsets of thin ridges (a Hough transform) that must
     pass through a ridge in a quarter of the field's rows, with a few pixels either side (their
     cross ticks); exactly level ones (region-of-interest outlines) as one-row ridges over half
     the field's width. Tissue in these scans runs across the image (fascicles, aponeuroses),
     slanted and wavering, and keeps to one row for a short stretch only;
   - small marks on the flat screen just beside the field that touch its side (a scale's digit
     drawn over the edge): their rows, a few pixels into the field;
   - colour scales along the field's side, with their labels above and below;
   - with several frames, pixels that stay the same in every frame.

The largest inscribed rectangle: every fitted shape is one run of pixels per column, so a
rectangle spanning columns x0..x1 can reach from the lowest top to the highest bottom of those
columns; the widest-times-tallest such pair of columns is taken (exhaustive over column pairs).
Where an overlay was found, `inscribed` is instead the largest rectangle inside the field and
clear of it (a maximal-rectangle scan): panels and training look only there, so the scanner's
marks over the field never reach them.

A time budget bounds the work: between stages the elapsed time is checked; once it has run out,
the box of the rows and columns densely covered by the candidate (or by textured pixels) is
returned with a note saying so, or, before the overlay search, the fitted field without it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from quiz.ingest.decoding import Rejected

__all__ = ["FieldOfView", "find_field_of_view"]


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


# The analysis copy is at most this many pixels on its longer side (integer shrink factor).
_ANALYSIS_SIDE = 512
# The rectangle clear of overlay marks is searched on at most this many cells a side, and taken
# only when it is at least this many pixels on each side (ingest's smallest image).
_CLEAR_CELLS = 160
_MIN_CLEAR_SIDE = 32
# At most this many frames of a cine loop are compared (evenly spaced).
_MAX_FRAMES = 8
# Half the side of the texture window (5x5).
_WINDOW_REACH = 2
# Standard deviation (grey levels) in a 5x5 neighbourhood above which a pixel is textured. Black
# screens, grey panels and compression noise stay below it; speckle, even dark speckle, does not.
_TEXTURE_STD = 3.0
# Flat areas darker than this next to the field may be faded echo (see _dark_extension).
_DARK_LEVEL = 24
# RGB channel spread above which a pixel is coloured UI (grey ultrasound has none).
_SATURATION = 40
# A pixel whose grey level changes by less than this over the frames is static (UI and screen
# stay exactly the same in a stored loop; the faintest tissue still flickers by a grey level).
_STATIC_STD = 0.25
# Side lines (slopes in pixels across per pixel down) that slant less than this are vertical.
_VERTICAL = 0.02
# Side slopes further apart than this are no steered field (whose sides are parallel, but whose
# fitted slopes a cut corner or a dark stretch of edge can bend).
_STEER_DISAGREEMENT = 0.15
# A sector opens at least this wide (radians; curvilinear probes open 40-70 degrees, phased 90).
_SECTOR_ANGLE = 0.35
# Fewer field pixels than this share of the analysis copy is no field at all.
_MIN_FIELD_SHARE = 0.02
# A field this close to the whole frame (each side within 1 %) is the whole frame.
_WHOLE_MARGIN = 0.01
# Overlay: near-white pixels standing this far above their 3x3 grey opening are thin strokes.
_STROKE_LEVEL = 200
_STROKE_CONTRAST = 90
# The marks of one icon (corner brackets) lie within twice this of each other (pixels); an icon
# is at most _ICON_AREA pixels (40 x 40).
_ICON_GAP = 6
_ICON_AREA = 1600
# Grey levels within which the pixels of one drawn mark lie: none, UI is drawn in a single
# colour and repeats it exactly, where a bright crest of tissue drifts by a level or two (a
# spread of 2 let short plateaus of fibres through, and one such speck may cost the panel half
# the field).
_MARK_LEVEL_SPREAD = 0
# A drawn mark stands this far above every pixel around it (a bright fibre fades out slowly).
_MARK_EDGE = 20
# Ruler ticks at the field's edge: thin strokes this much brighter than the pixels _TICK_REACH to
# either side, at least _TICK_MIN_LENGTH long, in a band of at most _TICK_DEPTH of the field.
_TICK_CONTRAST = 40
_TICK_REACH = 4
_TICK_MIN_LENGTH = 3
_TICK_DEPTH = 0.03
# Ticks of one ruler sit at multiples of one spacing (within this share of it) and one level.
_TICK_REGULARITY = 0.15
_TICK_LEVEL_SPREAD = 25
# Drawn straight lines over the field (needle guides, dotted depth lines, region outlines): thin
# ridges this much brighter than the pixels _LINE_REACH to either side. Near-upright ones (slope
# up to _LINE_SLOPE pixels across per pixel down, dashed or not) cover at least _LINE_COVER of
# the field's height; level ones, exactly horizontal and near solid, at least _LEVEL_LINE_COVER
# of its width (a thin tissue band can keep to one row for a quarter of the width, not half).
_LINE_CONTRAST = 30
_LINE_REACH = 2
_LINE_SLOPE = 0.3
_LINE_COVER = 0.25
_LEVEL_LINE_COVER = 0.5
_LINE_HALF_WIDTH = 3
_LINE_END_MARGIN = 0.05
# Corner brackets of an icon: thin marks (at least _BRACKET_CONTRAST above their 3x3 grey
# opening, at least _BRACKET_LEVEL bright) of at most _BRACKET_SIDE pixels a side, hollow.
_BRACKET_LEVEL = 180
_BRACKET_CONTRAST = 40
_BRACKET_SIDE = 8
# A mark outside the field that touches its edge and runs on inside (a scale's digit over the
# edge): off the screen's level by more than _EDGE_MARK_CONTRAST, at most _EDGE_MARK_LENGTH long
# along the edge; inside, it is taken _EDGE_MARK_DEPTH deep.
_EDGE_MARK_LENGTH = 40
_EDGE_MARK_CONTRAST = 40
_EDGE_MARK_DEPTH = 4


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
    gray = [_to_gray(frame) for frame in chosen]
    height, width = gray[0].shape
    factor = max(1, math.ceil(max(height, width) / _ANALYSIS_SIDE))
    cues = _cues(gray, chosen, factor)

    def over_budget() -> bool:
        return time.perf_counter() - started > budget_s

    if over_budget():
        return _fallback(cues.textured, factor, (height, width), budget_s, "the texture stage")
    candidate = _field_candidate(cues)
    if candidate is None:
        raise Rejected("no imaging field found (no textured area large enough for ultrasound)")
    if over_budget():
        return _fallback(candidate, factor, (height, width), budget_s, "finding the field")
    shape, params = _fit_shape(candidate, _dark_extension(cues, candidate))
    if shape in ("rectangle", "parallelogram"):
        params = _extend_into_dark(cues, shape, params)
        params = _pin_edges(gray[0], params, factor, candidate.shape)
        params = _trim_ticks(gray[0], shape, params, factor)
    mask = _render(shape, params, factor, (height, width))
    box = _bounding_box(mask)
    if box is None:
        raise Rejected("no imaging field found (the fitted field is empty)")
    left, top, right, bottom = box
    if _is_whole(box, (height, width)):
        return FieldOfView((0, 0, width, height), None, "whole", (0, 0, width, height), None, "")
    field = mask[top:bottom, left:right]
    inscribed = _inscribed_rectangle(field)
    if over_budget():
        note = f"time budget of {budget_s:g} s ran out before the overlay search; none reported"
        return FieldOfView(box, _mask_or_none(field), shape, inscribed, None, note)
    overlay = _overlay(gray, chosen, box, field, cues.static_full)
    if overlay is not None:
        # Panels and training look only inside `inscribed`: keep it clear of the scanner's marks,
        # unless so little is clear that the marks are more likely a misreading (ingest then
        # flags the marks left inside for staff to judge).
        clear = _clear_rectangle(field & ~overlay)
        if clear is not None and min(clear[2] - clear[0], clear[3] - clear[1]) >= _MIN_CLEAR_SIDE:
            inscribed = clear
    return FieldOfView(box, _mask_or_none(field), shape, inscribed, overlay, "")


# Cues --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cues:
    level: np.ndarray  # float grey level (the brightest over the frames), analysis scale
    textured: np.ndarray  # bool, analysis scale
    saturated: np.ndarray  # bool, analysis scale
    static: np.ndarray | None  # bool, analysis scale; None for a single frame
    static_full: np.ndarray | None  # bool, full scale; None for a single frame


def _to_gray(frame: np.ndarray) -> np.ndarray:
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


def _cues(gray: list[np.ndarray], frames: list[np.ndarray], factor: int) -> _Cues:
    small = [_shrink(g, factor) for g in gray]
    # A pixel textured in any frame counts.
    textured = np.max([_local_std(s, 2 * _WINDOW_REACH + 1) for s in small], axis=0) > _TEXTURE_STD
    if frames[0].ndim == 3:
        rgb = frames[0][..., :3].astype(np.int16)
        spread = (rgb.max(axis=2) - rgb.min(axis=2)).astype(np.float32)
        saturated = _shrink(spread, factor) > _SATURATION
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
    return _Cues(np.max(small, axis=0), textured, saturated, static, static_full)


def _field_candidate(cues: _Cues) -> np.ndarray | None:
    """The largest solid textured area: the field before its shape is fitted."""
    content = cues.textured & ~cues.saturated
    if cues.static is not None:
        # In a loop, what changes is tissue even where it is too faint to be textured, and what
        # never changes is screen.
        content = ~cues.static & ~cues.saturated
    height, width = content.shape
    disk = _disk(_opening_radius((height, width)))
    opened = ndimage.binary_opening(content, disk)
    labels, count = ndimage.label(opened)
    if not count:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    largest = int(np.argmax(sizes))
    if sizes[largest] < _MIN_FIELD_SHARE * content.size:
        return None
    # Closing bridges speckle gaps along the edges; filling keeps echo-free tissue and Doppler maps.
    region = ndimage.binary_closing(labels == largest, disk, border_value=0)
    return ndimage.binary_fill_holes(region)


def _dark_extension(cues: _Cues, region: np.ndarray) -> np.ndarray:
    """Flat, near-black areas next to the field that are not the screen's background.

    Deep in a sector the echo can fade to a flat level just above black; it is still field (the
    scanner draws it), while the screen around it sits at its own background level (the most
    common level). Grey panels are lighter than this and stay out. Only a sector's fit uses it
    (its faint depth and sides); straight edges have `_extend_into_dark`.
    """
    level = cues.level
    background = float(np.argmax(np.bincount(np.round(level).astype(np.int64).ravel())))
    # A level just off the background counts only where it is exact (a drawn fill, no noise):
    # black screens that dither between 0 and 1 are background, however they average out.
    exact = _local_std(level, 5) < 0.05
    distinct = np.abs(level - background) >= np.where(exact, 0.75, 1.5)
    flat = ~cues.textured & distinct & (level < _DARK_LEVEL)
    # The fade from echo to the flat level is neither exact nor far from black: bridge it.
    flat = ndimage.binary_closing(flat, np.ones((5, 5), dtype=bool)) | flat
    labels, count = ndimage.label(flat)
    if not count:
        return np.zeros_like(region)
    touching = np.unique(labels[ndimage.binary_dilation(region, iterations=2) & flat])
    return np.isin(labels, touching[touching > 0])


def _extend_into_dark(cues: _Cues, shape: str, params: dict[str, float]) -> dict[str, float]:
    """Push straight edges out over dark, flat field: echo-free tissue or a shadow at the edge.

    Texture stops where the echo does, which at a field's edge may be well inside it (a deep
    field that fades out, an acoustic shadow along one side). A line just outside the edge is
    still field when nearly all of it is textured or dark but not at the screen's own background
    level (the most common level). Only the frame, a panel, a ruler line or background stops it.
    """
    level = cues.level
    height, width = level.shape
    background = float(np.argmax(np.bincount(np.round(level).astype(np.int64).ravel())))
    dark = (np.abs(level - background) >= 2.5) & (level < _DARK_LEVEL)
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


def _opening_radius(size: tuple[int, int]) -> int:
    return max(2, round(0.008 * max(size)))


def _disk(radius: int) -> np.ndarray:
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius


# Shape -------------------------------------------------------------------------------------------


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


def _fit_shape(candidate: np.ndarray, extension: np.ndarray) -> tuple[str, dict[str, float]]:
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
        _iou(_render(shape, params, 1, candidate.shape), candidate) for shape, params in options
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


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def _fit_sector(region: np.ndarray) -> tuple[dict[str, float], float] | None:
    """A sector fitted to the region and how well it matches (IoU); None if the sides do not
    diverge like a curvilinear or phased-array field's."""
    rows, first, last, body = _body_rows(region)
    # The sides from the middle of the body: near the top the inner arc's corners and a fading
    # echo round the edge off, lower down the outer arc turns it inwards.
    order = np.cumsum(body)
    upper = body & (order > 0.1 * body.sum()) & (order <= 0.6 * body.sum())
    y = rows[upper] + 0.5
    # The texture window reaches _WINDOW_REACH pixels past the field: the candidate's sides sit
    # that far out (measured square to each side), its arcs that far in and out.
    left_a, left_b = _fit_line(y, first[upper].astype(float))
    right_a, right_b = _fit_line(y, last[upper] + 1.0)
    left_b += _WINDOW_REACH * math.hypot(1, left_a)
    right_b -= _WINDOW_REACH * math.hypot(1, right_a)
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
        outer = np.array([reach[clipped].max() + _WINDOW_REACH])
    params = {
        "apex_x": apex_x,
        "apex_y": apex_y,
        # Angles from straight down, positive to the right (the sides' directions).
        "left_angle": left_angle,
        "right_angle": right_angle,
        "inner": max(0.0, float(np.median(inner)) + _WINDOW_REACH),
        "outer": float(np.median(outer)) - _WINDOW_REACH,
    }
    return params, _iou(_render("sector", params, 1, region.shape), region)


def _render(shape: str, params: dict[str, float], factor: int, size: tuple[int, int]) -> np.ndarray:
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


def _pin_edges(
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
    inner = (2 * _opening_radius(analysis_size) + 4) * factor
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
        if reference <= _TEXTURE_STD:
            return start  # the field's edge is dark here: nothing to pin it by
        field_like = spreads >= max(_TEXTURE_STD / 2, 0.2 * reference)
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


def _trim_ticks(
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


# Results -----------------------------------------------------------------------------------------


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


def _clear_rectangle(allowed: np.ndarray) -> tuple[int, int, int, int] | None:
    """Largest axis-aligned rectangle of True pixels in any mask (None when there is none).

    The maximal-rectangle scan (per row, the column heights of True cells and a stack of
    rising heights) on cells of `factor` x `factor` pixels, a cell allowed only when all its
    pixels are: at most about _CLEAR_CELLS cells a side, so the Python loop stays short.
    """
    factor = max(1, math.ceil(max(allowed.shape) / _CLEAR_CELLS))
    rows, columns = allowed.shape[0] // factor, allowed.shape[1] // factor
    cells = allowed[: rows * factor, : columns * factor]
    cells = cells.reshape(rows, factor, columns, factor).all(axis=(1, 3))
    heights = np.zeros(columns + 1, dtype=int)  # a 0 at the end empties the stack each row
    best_area, best = 0, None
    for row in range(rows):
        heights[:columns] = np.where(cells[row], heights[:columns] + 1, 0)
        stack: list[tuple[int, int]] = []  # (first column, height), heights rising
        for column, height in enumerate(heights.tolist()):
            start = column
            while stack and stack[-1][1] >= height:
                start, top_height = stack.pop()
                area = top_height * (column - start)
                if area > best_area:
                    best_area, best = area, (start, row + 1 - top_height, column, row + 1)
            stack.append((start, height))
    if best is None:
        return None
    return tuple(value * factor for value in best)  # type: ignore[return-value]


def _inscribed_rectangle(field: np.ndarray) -> tuple[int, int, int, int]:
    """Largest axis-aligned rectangle of True pixels, for masks that are one run per column."""
    height, width = field.shape
    filled = field.any(axis=0)
    tops = np.where(filled, np.argmax(field, axis=0), height)
    bottoms = np.where(filled, height - np.argmax(field[::-1], axis=0), 0)
    best, best_box = 0, (0, 0, 0, 0)
    for x0 in range(width):
        if not filled[x0]:
            continue
        # For every right column x1 >= x0: the rectangle between the lowest top and highest bottom.
        low_top = np.maximum.accumulate(tops[x0:])
        high_bottom = np.minimum.accumulate(bottoms[x0:])
        areas = (np.arange(1, width - x0 + 1)) * np.maximum(high_bottom - low_top, 0)
        k = int(np.argmax(areas))
        if areas[k] > best:
            best = int(areas[k])
            best_box = (x0, int(low_top[k]), x0 + k + 1, int(high_bottom[k]))
    return best_box


def _overlay(
    gray: list[np.ndarray],
    frames: list[np.ndarray],
    box: tuple[int, int, int, int],
    field: np.ndarray,
    static_full: np.ndarray | None,
) -> np.ndarray | None:
    """UI drawn over the field: thin near-white strokes, and what stays put in a moving loop."""
    left, top, right, bottom = box
    window = gray[0][top:bottom, left:right]
    opened = ndimage.grey_opening(window, size=(3, 3))
    strokes = (window >= _STROKE_LEVEL) & (window - opened >= _STROKE_CONTRAST)
    if static_full is not None:
        # Static pixels inside a moving field are UI, but not black ones (echo-free tissue stays
        # black from frame to frame too).
        still = static_full[top:bottom, left:right] & (window > 30)
        strokes |= still
    # UI is drawn in one colour: nearly every pixel of a mark sits at the mark's own level, where a
    # bright speckle or fibre rises and falls. A lone pixel is speckle; marks are a few pixels at
    # least, except on black (echo-free tissue, a faded sector), where a dot of a dotted caliper
    # line may be two.
    labels, count = ndimage.label(strokes, np.ones((3, 3), dtype=bool))
    if count:
        index = np.arange(1, count + 1)
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        median = np.zeros(count + 1)
        median[1:] = ndimage.median(window, labels, index)
        on_level = np.abs(window - median[labels]) <= _MARK_LEVEL_SPREAD
        uniform = np.zeros(count + 1, dtype=bool)
        uniform[1:] = ndimage.mean(on_level, labels, index) >= 0.8
        dark = np.zeros(count + 1, dtype=bool)
        dark[1:] = ndimage.maximum(opened, labels, index) < _DARK_LEVEL
        # A fibre's bright crest fades into the fibre on either side; a drawn mark ends sharply:
        # the ring of pixels around it stays well below its level (bar more of the mark itself,
        # such as a caliper's thick crossing, which the opening kept).
        ring = ndimage.binary_dilation(strokes, np.ones((3, 3), dtype=bool)) & ~strokes
        near = ndimage.grey_dilation(labels, size=(3, 3)) * ring
        near[np.abs(window - median[near]) <= _MARK_LEVEL_SPREAD] = 0
        ring_top = np.zeros(count + 1)
        ring_top[1:] = ndimage.maximum(window, near, index)
        crisp = ring_top < median - _MARK_EDGE
        keep = uniform & crisp & ((sizes >= 4) | (dark & (sizes >= 2)))
        keep[0] = False
        strokes = keep[labels]
    # The whole of a bright mark that is mostly stroke (the thick crossing of a caliper), but not
    # a bright echo band that a stroke happens to touch.
    square = np.ones((3, 3), dtype=bool)
    bright, count = ndimage.label(window >= _STROKE_LEVEL, square)
    if count:
        sizes = np.bincount(bright.ravel(), minlength=count + 1)
        stroked = np.bincount(bright[strokes], minlength=count + 1)
        mostly = (stroked > 0) & (sizes <= 2 * stroked)
        mostly[0] = False
        strokes |= mostly[bright]
    strokes |= _enclosed_by_marks(strokes)
    strokes |= _bracketed_icons(window, opened)
    strokes |= _straight_lines(window, field)
    strokes |= _marks_over_the_edge(gray[0], box)
    if frames[0].ndim == 3:
        strokes |= _colour_bars(frames[0][top:bottom, left:right])
    overlay = ndimage.binary_dilation(strokes, square) & field
    return overlay if overlay.any() else None


def _ridges(window: np.ndarray, axis: int) -> np.ndarray:
    """Thin bright lines across `axis`: pixels well above both neighbours _LINE_REACH away."""
    before = np.roll(window, _LINE_REACH, axis=axis)
    after = np.roll(window, -_LINE_REACH, axis=axis)
    ridge = window - np.maximum(before, after) >= _LINE_CONTRAST
    # np.roll wraps around: the outermost lines have no neighbour on one side.
    edge = [slice(None), slice(None)]
    edge[axis] = np.r_[0:_LINE_REACH, -_LINE_REACH:0]  # type: ignore[call-overload]
    ridge[tuple(edge)] = False
    return ridge & (window >= 2 * _LINE_CONTRAST)


def _straight_lines(window: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Straight lines drawn over the field, and a few pixels around them (their ticks, ends).

    Near-upright lines, dashed or solid: a vote over slopes and offsets (a Hough transform) of
    thin ridges, counting the rows a line passes through a ridge pixel in; speckle spreads its
    votes thin, a drawn line puts one in most of its rows. Tissue in these scans runs across the
    image, not down it. Level lines: runs of one row's ridge, near solid, a good share of the
    field's width long.
    """
    height, width = window.shape
    lines = np.zeros(window.shape, dtype=bool)
    rows = np.flatnonzero(field.any(axis=1))
    if not len(rows):
        return lines
    span = rows[-1] - rows[0] + 1
    ys, xs = np.nonzero(_ridges(window, 1) & field)
    # Slopes a pixel of drift apart over the field's height.
    slopes = np.linspace(-_LINE_SLOPE, _LINE_SLOPE, int(2 * _LINE_SLOPE * span / 2) | 1)
    shift = math.ceil(_LINE_SLOPE * height) + 2  # keeps every offset positive for bincount
    for _ in range(4):
        if len(ys) < _LINE_COVER * span:
            break
        best = (0, 0.0, 0)
        for slope in slopes:
            offsets = np.round(xs - slope * ys).astype(np.int64) + shift
            # Each row votes once per offset (a 2-pixel-wide line has two ridge pixels a row),
            # and a line between two slopes spreads over neighbouring offsets: sum three.
            votes = np.bincount(np.unique(offsets * height + ys) // height, minlength=2)
            votes = np.convolve(votes, np.ones(3, dtype=np.int64), mode="same")
            found = int(np.argmax(votes))
            if votes[found] > best[0]:
                best = (int(votes[found]), float(slope), found - shift)
        _, slope, offset = best
        near = np.abs(xs - slope * ys - offset) <= 1.5
        # The rows the line really passes through a ridge in (the sum above may count twice).
        if len(np.unique(ys[near])) < _LINE_COVER * span:
            break
        # Where a line crosses bright tissue it is no ridge: its ends reach a little further.
        margin = round(_LINE_END_MARGIN * span)
        first, last = max(0, ys[near].min() - margin), min(height - 1, ys[near].max() + margin)
        band_y, band_x = np.mgrid[first : last + 1, 0:width]
        lines[first : last + 1] |= np.abs(band_x - slope * band_y - offset) <= _LINE_HALF_WIDTH
        keep = np.abs(xs - slope * ys - offset) > _LINE_HALF_WIDTH
        ys, xs = ys[keep], xs[keep]
    # A lossy screen breaks a level line into pieces a few pixels apart: bridge those.
    level = ndimage.binary_closing(_ridges(window, 0) & field, np.ones((1, 7), dtype=bool))
    runs, _ = ndimage.label(level, np.array([[0, 0, 0], [1, 1, 1], [0, 0, 0]], dtype=bool))
    level_lines = np.zeros_like(lines)
    for index, found in enumerate(ndimage.find_objects(runs), start=1):
        if found[1].stop - found[1].start >= _LEVEL_LINE_COVER * width:
            level_lines[found] |= runs[found] == index
    if level_lines.any():
        lines |= ndimage.binary_dilation(level_lines, iterations=2)
    return lines & field


def _enclosed_by_marks(strokes: np.ndarray) -> np.ndarray:
    """The inside of an icon drawn as corner brackets around a shaded symbol: three or more marks
    close together that span a small, squarish box. The symbol is no one-level stroke itself, so
    the box between the marks is taken. A caliper (one mark) or a dotted line (a long, thin run
    of dots) is no icon."""
    marks, _ = ndimage.label(strokes, np.ones((3, 3), dtype=bool))
    clusters, count = ndimage.label(ndimage.binary_dilation(strokes, _disk(_ICON_GAP)))
    inside = np.zeros_like(strokes)
    for index, found in enumerate(ndimage.find_objects(clusters), start=1):
        members = np.unique(marks[found][(clusters[found] == index) & strokes[found]])
        rows = np.flatnonzero(np.any((clusters[found] == index) & strokes[found], axis=1))
        columns = np.flatnonzero(np.any((clusters[found] == index) & strokes[found], axis=0))
        tall, wide = rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1
        squarish = max(tall, wide) <= 2 * min(tall, wide)
        if len(members) >= 3 and squarish and tall * wide <= _ICON_AREA:
            top, left = found[0].start + rows[0], found[1].start + columns[0]
            inside[top : top + tall, left : left + wide] = True
    return inside


def _bracketed_icons(window: np.ndarray, opened: np.ndarray) -> np.ndarray:
    """Icons framed by corner brackets, found by the brackets' shape rather than their level.

    Over bright tissue a bracket stands out from its surroundings less than a white stroke does,
    and a scanner that dithers or compresses its screen does not keep it at one level; but its
    marks are still thin (far above the 3x3 opening), small and hollow (an L fills under half
    its box), and three or four of them sit at the corners of one small square.
    """
    thin = (window >= _BRACKET_LEVEL) & (window - opened >= _BRACKET_CONTRAST)
    marks, count = ndimage.label(thin, np.ones((3, 3), dtype=bool))
    brackets = np.zeros_like(thin)
    for index, found in enumerate(ndimage.find_objects(marks), start=1):
        tall, wide = found[0].stop - found[0].start, found[1].stop - found[1].start
        size = np.count_nonzero(marks[found] == index)
        if 3 <= tall <= _BRACKET_SIDE and 3 <= wide <= _BRACKET_SIDE and size <= 0.6 * tall * wide:
            brackets[found] |= marks[found] == index
    inside = np.zeros_like(thin)
    if not brackets.any():
        return inside
    clusters, _ = ndimage.label(ndimage.binary_dilation(brackets, _disk(_ICON_GAP)))
    bracket_labels, _ = ndimage.label(brackets, np.ones((3, 3), dtype=bool))
    for index, found in enumerate(ndimage.find_objects(clusters), start=1):
        member = (clusters[found] == index) & brackets[found]
        ys, xs = np.nonzero(member)
        top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        tall, wide = bottom - top, right - left
        if max(tall, wide) > 2 * min(tall, wide) or tall * wide > _ICON_AREA:
            continue
        # Each bracket claims the corner of the cluster's box that it reaches (within a quarter
        # of the side): an icon has three or four corners claimed by different brackets.
        corners = set()
        for label in np.unique(bracket_labels[found][member]):
            my, mx = np.nonzero(bracket_labels[found] == label)
            ends = ((top, left), (top, right - 1), (bottom - 1, left), (bottom - 1, right - 1))
            distance = [(np.abs(my - cy) + np.abs(mx - cx)).min() for cy, cx in ends]
            if min(distance) <= max(tall, wide) / 4:
                corners.add(int(np.argmin(distance)))
        if len(corners) >= 3:
            inside[found][top:bottom, left:right] = True
    return inside


def _marks_over_the_edge(gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The inside part of small marks that lie on the screen just left or right of the box and
    touch it.

    A digit or a marker of a depth scale drawn against the field's side runs on into the field,
    where tissue hides it from the stroke tests; its outside part, on the flat screen, shows
    where. (Along the top and bottom, rulers touch the whole edge: `_trim_ticks` handles those.)
    """
    left, top, right, bottom = box
    width = gray.shape[1]
    inside = np.zeros((bottom - top, right - left), dtype=bool)
    reach = _EDGE_MARK_DEPTH + 2
    sides = []  # the strip outside, read from the edge outwards, and the columns inside
    if right + reach <= width:
        sides.append((gray[top:bottom, right : right + reach], slice(-_EDGE_MARK_DEPTH, None)))
    if left >= reach:
        sides.append((gray[top:bottom, left - reach : left][:, ::-1], slice(0, _EDGE_MARK_DEPTH)))
    for strip, columns in sides:
        offset = np.abs(strip - float(np.median(strip)))
        if np.mean(offset <= 3) < 0.9:
            continue  # no flat screen beside the field (tissue, a shadow): nothing to read there
        marks, _ = ndimage.label(offset > _EDGE_MARK_CONTRAST)
        for found in ndimage.find_objects(marks):
            # Touching the edge, or all but (an outline glyph meets it in a few pixels only), and
            # more than the one column where a field that fades out meets a black screen.
            touching = found[1].start <= 2 and found[1].stop - found[1].start >= 2
            if touching and found[0].stop - found[0].start <= _EDGE_MARK_LENGTH:
                inside[max(0, found[0].start - 1) : found[0].stop + 1, columns] = True
    return inside


def _colour_bars(window: np.ndarray) -> np.ndarray:
    """Colour scales drawn over the side of the field: solid, upright blocks of saturated colour
    against the field's left or right edge. A colour-Doppler map is colour too but lies in the
    field as blobs; it is tissue signal, not UI, and stays out of the overlay."""
    rgb = window[..., :3].astype(np.int16)
    brightest, spread = rgb.max(axis=2), rgb.max(axis=2) - rgb.min(axis=2)
    # Dark shades of a scale (deep red, navy) are coloured too: their light is mostly one hue.
    saturated = (spread > _SATURATION) | ((spread >= 0.6 * brightest) & (brightest >= _DARK_LEVEL))
    # A scale may pass through black (a bidirectional flow scale): bridge a few rows of it.
    saturated = ndimage.binary_closing(saturated, np.ones((5, 1), dtype=bool)) | saturated
    labels, count = ndimage.label(saturated, np.ones((3, 3), dtype=bool))
    bars = np.zeros(saturated.shape, dtype=bool)
    width = saturated.shape[1]
    margin = max(3, round(0.04 * width))
    for index, found in enumerate(ndimage.find_objects(labels), start=1):
        rows, columns = found
        tall, wide = rows.stop - rows.start, columns.stop - columns.start
        solid = np.count_nonzero(labels[found] == index) >= 0.6 * tall * wide
        at_side = columns.start <= margin or columns.stop >= width - margin
        if at_side and solid and tall >= 2 * wide and tall >= 10:
            # A scale's labels (its name, the top and bottom of its range) sit just above and
            # below it, within about half its width: its whole column goes that far,
            # and may be a little wider than it.
            reach = wide // 2
            bars[
                max(0, rows.start - reach) : rows.stop + reach,
                max(0, columns.start - reach // 2) : columns.stop + reach // 2,
            ] = True
    # Scales come framed, with a grey twin or labels beside them: a few pixels around go too.
    return ndimage.binary_dilation(bars, iterations=3) if bars.any() else bars


def _longest_run(above: np.ndarray) -> tuple[int, int] | None:
    """[start, end) of the longest run of True; None when there is none."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], above.astype(np.int8), [0]))))
    if not len(edges):
        return None
    starts, ends = edges[0::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest])


def _dense_box(region: np.ndarray) -> tuple[int, int, int, int] | None:
    columns = region.mean(axis=0)
    horizontal = _longest_run(columns >= 0.5 * columns.max()) if columns.max() > 0 else None
    if horizontal is None:
        return None
    left, right = horizontal
    rows = region[:, left:right].mean(axis=1)
    top, bottom = _longest_run(rows >= 0.5 * rows.max())
    return left, top, right, bottom


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
