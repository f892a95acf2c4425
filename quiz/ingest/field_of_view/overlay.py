"""The scanner's marks drawn over the field itself: inside its mask, at full resolution.

Where the cues separate drawn marks from tissue:

- thin near-white strokes that repeat one grey level exactly and end sharply (every pixel around
  them well below that level: a bright fibre's crest fades into the fibre), and the whole of a
  bright mark made mostly of them (calipers, dots, glyphs);
- icons framed by corner brackets: small, hollow, thin bright marks at three or four corners of
  one small square (found by shape, so also over bright tissue and on lossy screens), with the
  box they frame;
- straight drawn lines: near-upright ones, dashed or solid (needle guides, dotted depth lines),
  from a vote over slopes and offsets of thin ridges (a Hough transform) that must pass through
  a ridge in a quarter of the field's rows, with a few pixels either side (their cross ticks);
  exactly level ones (region-of-interest outlines) as one-row ridges over half the field's
  width. Tissue in these scans runs across the image (fascicles, aponeuroses), slanted and
  wavering, and keeps to one row for a short stretch only;
- small marks on the flat screen just beside the field that touch its side (a scale's digit
  drawn over the edge): their rows, a few pixels into the field;
- colour scales along the field's side, with their labels above and below;
- with several frames, pixels that stay the same in every frame.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from quiz.ingest.field_of_view.cues import DARK_LEVEL, SATURATION, disk

# Near-white pixels standing this far above their 3x3 grey opening are thin strokes.
_STROKE_LEVEL = 200
_STROKE_CONTRAST = 90
# Grey levels within which the pixels of one drawn mark lie: none, UI is drawn in a single
# colour and repeats it exactly, where a bright crest of tissue drifts by a level or two (a
# spread of 2 let short plateaus of fibres through, and one such speck may cost the panel half
# the field).
_MARK_LEVEL_SPREAD = 0
# A drawn mark stands this far above every pixel around it (a bright fibre fades out slowly).
_MARK_EDGE = 20
# The marks of one icon (corner brackets) lie within twice this of each other (pixels); an icon
# is at most _ICON_AREA pixels (40 x 40).
_ICON_GAP = 6
_ICON_AREA = 1600
# Corner brackets of an icon: thin marks (at least _BRACKET_CONTRAST above their 3x3 grey
# opening, at least _BRACKET_LEVEL bright) of at most _BRACKET_SIDE pixels a side, hollow.
_BRACKET_LEVEL = 180
_BRACKET_CONTRAST = 40
_BRACKET_SIDE = 8
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
# A mark outside the field that touches its edge and runs on inside (a scale's digit over the
# edge): off the screen's level by more than _EDGE_MARK_CONTRAST, at most _EDGE_MARK_LENGTH long
# along the edge; inside, it is taken _EDGE_MARK_DEPTH deep.
_EDGE_MARK_LENGTH = 40
_EDGE_MARK_CONTRAST = 40
_EDGE_MARK_DEPTH = 4


def find_overlay(
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
        dark[1:] = ndimage.maximum(opened, labels, index) < DARK_LEVEL
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


def _enclosed_by_marks(strokes: np.ndarray) -> np.ndarray:
    """The inside of an icon drawn as corner brackets around a shaded symbol: three or more marks
    close together that span a small, squarish box. The symbol is no one-level stroke itself, so
    the box between the marks is taken. A caliper (one mark) or a dotted line (a long, thin run
    of dots) is no icon."""
    marks, _ = ndimage.label(strokes, np.ones((3, 3), dtype=bool))
    clusters, count = ndimage.label(ndimage.binary_dilation(strokes, disk(_ICON_GAP)))
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
    clusters, _ = ndimage.label(ndimage.binary_dilation(brackets, disk(_ICON_GAP)))
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


def _marks_over_the_edge(gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The inside part of small marks that lie on the screen just left or right of the box and
    touch it.

    A digit or a marker of a depth scale drawn against the field's side runs on into the field,
    where tissue hides it from the stroke tests; its outside part, on the flat screen, shows
    where. (Along the top and bottom, rulers touch the whole edge: `edges.trim_ticks` handles
    those.)
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
    saturated = (spread > SATURATION) | ((spread >= 0.6 * brightest) & (brightest >= DARK_LEVEL))
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
