"""Synthetic scanner screens with known ground truth, for the field-of-view detector.

`scanner_screen(seed, ...)` draws a speckle field (rectangle, steered parallelogram or sector) on
a black or grey screen and the UI a scanner puts around and over it: header text, a depth ruler
(beside the field, below it, or along its bottom edge with ticks reaching into it), a dashed
needle-guide line over the field, a focus marker at the field's edge, an orientation icon, a
grey-map bar, a colour bar, calipers over the field, a colour-Doppler map, a white border of a
screen capture, and several frames in which the speckle moves and the UI stays. It returns the
frames with the frame-sized truth: which pixels are field and which are UI. Deterministic per
seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage


@dataclass(frozen=True)
class Phantom:
    frames: list[np.ndarray]  # uint8 H x W x 3, one per frame (UI static, speckle moving)
    field: np.ndarray  # bool H x W: the imaging field
    ui: np.ndarray  # bool H x W: every UI pixel (inside the field too)


def field_mask(shape: str, size: tuple[int, int]) -> np.ndarray:
    """The field of a phantom screen of `size` (height, width): fixed proportions per shape."""
    height, width = size
    y, x = np.mgrid[:height, :width] + 0.5
    if shape == "sector":
        apex_x, apex_y = width / 2, -0.12 * height
        angle = np.arctan2(x - apex_x, y - apex_y)
        radius = np.hypot(x - apex_x, y - apex_y)
        return (
            (np.abs(angle) <= np.radians(32)) & (radius >= 0.3 * height) & (radius <= 1.0 * height)
        )
    slope = 0.2 if shape == "parallelogram" else 0.0
    shift = x - slope * (y - 0.12 * height)
    return (
        (shift >= 0.18 * width) & (shift < 0.72 * width) & (y >= 0.12 * height) & (y < 0.9 * height)
    )


def _speckle(rng: np.random.Generator, size: tuple[int, int], offset: int) -> np.ndarray:
    """Log-compressed Rayleigh speckle over tissue with bright slanted bands (aponeuroses)."""
    height, width = size
    pad = 40
    real = rng.normal(size=(height + pad, width + pad))
    imaginary = rng.normal(size=(height + pad, width + pad))
    # Correlated speckle: the complex echo smoothed over a resolution cell, then its magnitude.
    envelope = np.hypot(
        ndimage.gaussian_filter(real, (1.2, 2.0)), ndimage.gaussian_filter(imaginary, (1.2, 2.0))
    )
    envelope = envelope[offset : offset + height, offset : offset + width]
    y, x = np.mgrid[:height, :width]
    tissue = np.full(size, 0.6)
    for band in range(3):
        centre = (0.25 + 0.3 * band) * height + 0.15 * (x - width / 2) * (band - 1) / 2
        tissue += 2.0 * np.exp(-(((y - centre) / 4.0) ** 2))
    tissue *= 1 - 0.5 * y / height  # attenuation with depth
    echo = 40 * np.log1p(10 * envelope * tissue)
    return np.clip(echo, 0, 255)


def speckle_scan(seed: int, size: int, *, blur: float = 0.0) -> np.ndarray:
    """A square field of phantom muscle speckle, uint8 size x size (no screen, no UI): the
    pixels of a cropped scan. `blur` (a Gaussian σ in pixels) makes a softer, less sharp copy,
    as a generator that misses the speckle's finest grain would draw it."""
    pixels = _speckle(np.random.default_rng(seed), (size, size), 20)
    if blur:
        pixels = ndimage.gaussian_filter(pixels, blur)
    return np.rint(pixels).astype(np.uint8)


def scanner_screen(
    seed: int,
    *,
    shape: str = "rectangle",
    size: tuple[int, int] = (600, 800),
    background: int = 0,
    header: bool = True,
    ruler: str | None = "side",
    focus_marker: bool = True,
    icon: bool = True,
    grey_bar: bool = True,
    colour_bar: bool = False,
    colour_bar_on_field: bool = False,
    calipers: bool = False,
    caliper_grey: int = 255,
    white_border: bool = False,
    doppler: bool = False,
    needle_line: bool = False,
    frames: int = 1,
) -> Phantom:
    """A scanner screen of `size` (height, width) with the given field shape and UI.

    ruler: "side", "bottom" (a few pixels below the field), "edge" (a line just below the field
    whose ticks reach 6 pixels up into it, every 10th one 10) or None. colour_bar_on_field draws
    the colour scale over the field's left edge instead of beside the screen's; caliper_grey sets
    the calipers' level (dark grey ones are no near-white strokes, so only a loop's stillness
    tells them from tissue); needle_line draws a dashed, slightly slanted grey line down the
    field near its left side.
    """
    rng = np.random.default_rng(seed)
    height, width = size
    field = field_mask(shape, size)
    rows, columns = np.flatnonzero(field.any(axis=1)), np.flatnonzero(field.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1

    ui_layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(ui_layer)
    font = ImageFont.load_default(size=max(10, height // 45))
    if header:
        draw.text((10, 6), f"PHANTOM {seed:04d}  L12-5  MSK", fill=(230, 230, 230, 255), font=font)
        draw.text((width - 230, 6), "MI 0.9  TIs 0.2  30 Hz", fill=(230, 230, 230, 255), font=font)
    if ruler == "side":
        x = right + 8 if shape != "sector" else int(width * 0.93)
        draw.line([(x, top), (x, bottom)], fill=(200, 200, 200, 255))
        for k, y in enumerate(range(top, bottom, max(10, (bottom - top) // 10))):
            draw.line([(x, y), (x + (8 if k % 5 == 0 else 4), y)], fill=(200, 200, 200, 255))
    elif ruler == "bottom":
        y = bottom + 6
        draw.line([(left, y), (right, y)], fill=(200, 200, 200, 255))
        for x in range(left, right, max(10, (right - left) // 12)):
            draw.line([(x, y), (x, y + 6)], fill=(200, 200, 200, 255))
    elif ruler == "edge":
        draw.line([(left, bottom), (right, bottom)], fill=(170, 170, 170, 255))
        for k, x in enumerate(range(left + 20, right - 10, max(12, (right - left) // 12))):
            reach = 10 if k % 5 == 0 else 6
            draw.line([(x, bottom - reach), (x, bottom)], fill=(170, 170, 170, 255), width=2)
    if needle_line:
        x0, x1 = left + 30, left + 12
        for y in range(top, bottom - 4, 8):
            at = x0 + (x1 - x0) * (y - top) / (bottom - top)
            draw.line([(at, y), (at, y + 3)], fill=(160, 160, 160, 255))
    if focus_marker:
        # A small triangle pointing at the field, just outside its left or right edge.
        y = (top + bottom) // 2
        edge_x = int(np.flatnonzero(field[y])[-1]) + 4
        draw.polygon(
            [(edge_x, y), (edge_x + 9, y - 6), (edge_x + 9, y + 6)], fill=(220, 220, 220, 255)
        )
    if icon:
        draw.ellipse([10, top, 30, top + 20], outline=(180, 180, 255, 255), width=2)
        draw.text((14, top + 3), "P", fill=(255, 255, 255, 255), font=font)
    if grey_bar:
        for k in range(100):
            level = int(255 * (1 - k / 99))
            draw.line([(width - 24, 60 + k), (width - 14, 60 + k)], fill=(level, level, level, 255))
    if colour_bar or colour_bar_on_field:
        bar_x = left + 2 if colour_bar_on_field else 12
        for k in range(100):
            red, blue = (255, 40) if k < 50 else (40, 255)
            draw.line([(bar_x, 200 + k), (bar_x + 14, 200 + k)], fill=(red, 60, blue, 255))
    if calipers:
        for cx, cy in [
            (left + (right - left) // 3, (top + bottom) // 2),
            ((left + right) // 2 + 40, bottom - 80),
        ]:
            grey = (caliper_grey, caliper_grey, caliper_grey, 255)
            draw.line([(cx - 6, cy), (cx + 6, cy)], fill=grey)
            draw.line([(cx, cy - 6), (cx, cy + 6)], fill=grey)
    ui = np.asarray(ui_layer)[..., 3] > 0
    paint = np.asarray(ui_layer)[..., :3].astype(np.float64)

    doppler_box = None
    if doppler:
        cy, cx = (top + bottom) // 2, (left + right) // 2
        yy, xx = np.mgrid[:height, :width]
        blobs = ((yy - cy) / 40) ** 2 + ((xx - cx) / 70) ** 2 < 1
        doppler_box = blobs & field & (rng.random(size) < 0.7)
        doppler_box = ndimage.binary_opening(doppler_box)

    screen = []
    for frame in range(frames):
        echo = _speckle(np.random.default_rng([seed, frame]), size, offset=3 * frame)
        image = np.full((height, width, 3), float(background))
        image[field] = echo[field][:, None]
        if doppler_box is not None:
            up = doppler_box & (np.arange(width)[None, :] < (left + right) // 2)
            image[up] = (230, 40, 30)
            image[doppler_box & ~up] = (30, 60, 230)
        image[ui] = paint[ui]
        if white_border:
            border = max(4, height // 60)
            image[:border], image[-border:] = 255, 255
            image[:, :border], image[:, -border:] = 255, 255
        screen.append(np.round(image).astype(np.uint8))
    if white_border:
        border = max(4, height // 60)
        ui = ui.copy()
        ui[:border], ui[-border:], ui[:, :border], ui[:, -border:] = True, True, True, True
    return Phantom(screen, field, ui)


def staircase(size: int = 1024) -> np.ndarray:
    """The 1-pixel checkerboard staircase that kept the old crop's flood busy for minutes."""
    y, x = np.mgrid[:size, :size]
    return ((x + y) % 2 * 255).astype(np.uint8)
