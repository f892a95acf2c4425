"""The panel's rectangle: the largest axis-aligned rectangle inside the field.

Every fitted shape is one run of pixels per column, so a rectangle spanning columns x0..x1 can
reach from the lowest top to the highest bottom of those columns; the widest-times-tallest such
pair of columns is taken (exhaustive over column pairs). Where an overlay was found, the
detector instead takes the largest rectangle inside the field and clear of it (a
maximal-rectangle scan, for any mask): panels and training look only there, so the scanner's
marks over the field never reach them.
"""

from __future__ import annotations

import math

import numpy as np

# The rectangle clear of overlay marks is searched on at most this many cells a side.
_CLEAR_CELLS = 160


def inscribed_rectangle(field: np.ndarray) -> tuple[int, int, int, int]:
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


def clear_rectangle(allowed: np.ndarray) -> tuple[int, int, int, int] | None:
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
