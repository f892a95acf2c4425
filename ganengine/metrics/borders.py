"""Lines along an image's borders: the mark a generator's zero-padded convolutions leave.

A convolution that pads with zeros sees a dark frame around every feature map, and a generator
learns to draw against it: a thin bright or dark line along each side of its images
(`UnconditionalConfig.padding`). `border_lines` measures how much the image changes from its
outermost row or column into the next, over how much it changes between neighbouring rows and
columns anywhere: compare the figure of generated images with that of real ones at the same size,
whose borders change like the rest of them. RGB images are measured on their luminance, as
ganengine.metrics.spectrum does.
"""

from __future__ import annotations

import numpy as np

from ganengine.metrics._pixels import check_images, luminance


def border_lines(images: np.ndarray, depth: int = 2) -> list[float]:
    """uint8 [N, H, W] or [N, H, W, 3] -> for each d < depth, the mean absolute step from row
    (column) d into row (column) d + 1 from the edge, over the four sides, divided by the mean
    step between neighbouring rows and columns of the whole image."""
    pixels = luminance(check_images(images, "images"))
    if min(pixels.shape[1:3]) < 2 * depth + 2:
        raise ValueError(f"images of {pixels.shape[1]} x {pixels.shape[2]} pixels are too small")
    rows, cols = np.abs(np.diff(pixels, axis=1)), np.abs(np.diff(pixels, axis=2))
    interior = (rows.mean() + cols.mean()) / 2
    if interior == 0:
        raise ValueError("the images are flat: no step to compare the borders with")
    sides = [
        np.mean(
            [
                rows[:, d].mean(),
                rows[:, -1 - d].mean(),
                cols[:, :, d].mean(),
                cols[:, :, -1 - d].mean(),
            ]
        )
        for d in range(depth)
    ]
    return [float(side / interior) for side in sides]
