"""Synthetic muscle-architecture label masks, and the fit of their ranges to real masks.

A mask is a uint8 label map [S, S]: BACKGROUND (0), APONEUROSIS (1), FASCICLE (2). It has two
aponeuroses (superficial above deep), each a slightly tilted and curved band, and straight
fascicle segments between them at a pennation angle to the deep aponeurosis. Fascicles rise
towards the right, as in all the real masks.

Geometry is in fractions of the square side, in the frame the GAN sees: the scanner frame
centre-cropped to a square (`ganengine.data`), x to the right and y downwards, so depths and
extents transfer to any size. Each parameter is sampled uniformly from a (low, high) range.
`fit_mask_params` measures the ranges on real masks (5th..95th percentile of each quantity);
`MaskParams()` holds the result of that fit on ../shared/data/muscle-us/masks (see the field
comments and benchmarks/fit_mask_ranges.py, which reproduces them).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

BACKGROUND, APONEUROSIS, FASCICLE = 0, 1, 2

Range = tuple[float, float]


@dataclass(frozen=True)
class MaskParams:
    # Fitted by fit_mask_params on ../shared/data/muscle-us/masks: 548 of the 551 aponeurosis
    # masks (those with two long bands) and 5811 fascicle segments of the 309 fascicle masks, each
    # measured on its native-resolution centre-cropped square; pennation from the 98 images that
    # have both masks. Ranges are the 5th..95th percentiles. Angles in degrees, positive = rising
    # to the right; curvature = sag of the band ends below its middle over its half length;
    # everything else in fractions of the side. Reproduce: benchmarks/fit_mask_ranges.py.
    superficial_depth: Range = (0.047, 0.283)  # y of the centre line at mid-band
    deep_gap: Range = (0.205, 0.653)  # deep depth minus superficial depth
    superficial_thickness: Range = (0.013, 0.031)
    deep_thickness: Range = (0.013, 0.035)
    superficial_tilt: Range = (-6.49, 1.135)
    deep_tilt: Range = (-11.92, 1.123)
    curvature: Range = (-0.018, 0.056)
    band_left: Range = (0.0, 0.087)  # x where the bands start; 0 = they run off the crop
    band_right: Range = (0.663, 1.0)  # x where they end
    pennation: Range = (11.404, 23.536)  # fascicle angle to the deep aponeurosis
    fascicle_spacing: Range = (0.01, 0.043)  # perpendicular gap between fascicle lines
    fascicle_thickness: Range = (0.001, 0.002)  # 1 px lines at the native ~600 px
    fascicle_length: Range = (0.033, 0.3)

    def to_dict(self) -> dict[str, list[float]]:
        return {name: list(value) for name, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Iterable[float]]) -> MaskParams:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown MaskParams key(s): {', '.join(unknown)}")
        return cls(**{name: tuple(float(v) for v in value) for name, value in data.items()})


def generate_mask(
    rng: np.random.Generator, size: int, params: MaskParams | None = None
) -> np.ndarray:
    """One uint8 [size, size] label map drawn with `rng`."""
    p = params or MaskParams()

    def draw(name: str) -> float:
        low, high = getattr(p, name)
        return float(rng.uniform(low, high))

    s = size
    ys, xs = (np.mgrid[0:s, 0:s] + 0.5) / s  # pixel centres in fractions of the side
    left, right = draw("band_left"), draw("band_right")
    mid = (left + right) / 2
    half = max((right - left) / 2, 1e-6)

    def centre_line(depth: float, tilt: float, curvature: float) -> np.ndarray:
        u = (xs[0] - mid) / half  # -1 .. 1 along the band
        return depth + math.tan(math.radians(-tilt)) * (xs[0] - mid) + curvature * half * u**2

    superficial_depth = draw("superficial_depth")
    deep_depth = superficial_depth + draw("deep_gap")
    deep_tilt = draw("deep_tilt")
    top = centre_line(superficial_depth, draw("superficial_tilt"), draw("curvature"))  # [S]
    bottom = centre_line(deep_depth, deep_tilt, draw("curvature"))
    # Bands at least one pixel thick, so they survive any size.
    top_half = max(draw("superficial_thickness"), 1 / s) / 2
    bottom_half = max(draw("deep_thickness"), 1 / s) / 2
    inside = (xs >= left) & (xs <= right)
    superficial = inside & (np.abs(ys - top) <= top_half)
    deep = inside & (np.abs(ys - bottom) <= bottom_half)
    muscle = inside & (ys > top + top_half) & (ys < bottom - bottom_half)

    mask = np.zeros((s, s), dtype=np.uint8)
    mask[_fascicles(rng, p, xs, ys, deep_tilt + draw("pennation"), muscle, draw)] = FASCICLE
    mask[superficial | deep] = APONEUROSIS
    return mask


def _fascicles(rng, p, xs, ys, angle, muscle, draw) -> np.ndarray:
    """Boolean map of straight segments at `angle` (degrees, rising right) inside `muscle`."""
    out = np.zeros(muscle.shape, dtype=bool)
    if not muscle.any():
        return out
    theta = math.radians(angle)
    direction = np.array([math.cos(theta), -math.sin(theta)])  # (x, y), y downwards
    normal = np.array([math.sin(theta), math.cos(theta)])
    along = xs * direction[0] + ys * direction[1]
    across = xs * normal[0] + ys * normal[1]
    # At low resolution 1 px lines at the real spacing would fill the muscle: keep 3 px apart.
    spacing = max(draw("fascicle_spacing"), 4 / muscle.shape[0])
    offsets = across[muscle]
    first = offsets.min() + rng.uniform(0, spacing)
    for offset in np.arange(first, offsets.max(), spacing):
        on_line = muscle & (np.abs(across - offset) <= spacing / 2)
        if not on_line.any():
            continue
        # A segment centred on a random muscle point of this line, clipped to the muscle.
        centre = rng.choice(along[on_line])
        length, thickness = draw("fascicle_length"), draw("fascicle_thickness")
        half_width = max(thickness, 1 / muscle.shape[0]) / 2
        segment = (np.abs(across - offset) <= half_width) & (np.abs(along - centre) <= length / 2)
        out |= segment & muscle
    return out


def generate_masks(
    count: int, size: int, seed: int = 0, params: MaskParams | None = None
) -> np.ndarray:
    """uint8 [count, size, size] label maps of seeds seed .. seed + count - 1.

    Each mask has its own RNG stream, so mask i is exactly generate_masks(1, size, seed + i)[0].
    """
    if count < 0 or seed < 0:
        raise ValueError("count and seed must be >= 0")
    out = np.empty((count, size, size), dtype=np.uint8)
    for i in range(count):
        out[i] = generate_mask(mask_rng(seed + i), size, params)
    return out


def mask_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed))


def render(labels: np.ndarray) -> np.ndarray:
    """uint8 grey picture of label maps: aponeurosis white, fascicles grey, background black."""
    return np.array([0, 255, 128], dtype=np.uint8)[labels]


# --- Fitting the ranges to real masks -------------------------------------------------------


def square_mask(path: str | Path, size: int | None = None) -> np.ndarray:
    """A 0/255 mask file -> bool square: centre-cropped like ganengine.data, resized to `size`.

    None keeps the native side: fascicle masks are 1 px lines that any shrinking would erase.
    """
    with Image.open(path) as img:
        gray = np.asarray(img.convert("L"))
    h, w = gray.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = Image.fromarray(gray[top : top + side, left : left + side])
    if size is not None and size != side:
        crop = crop.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(crop) >= 128


def components(binary: np.ndarray) -> list[np.ndarray]:
    """8-connected components of a bool image, each as an [n, 2] array of (y, x) pixels."""
    parent: list[int] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    runs: list[tuple[int, int, int]] = []  # (row, start, stop)
    previous: list[int] = []
    for y, row in enumerate(binary):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
        current = []
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            index = len(runs)
            runs.append((y, int(start), int(stop)))
            parent.append(index)
            for j in previous:
                _, p_start, p_stop = runs[j]
                if p_start <= stop and start <= p_stop:  # touching, diagonals included
                    a, b = find(index), find(j)
                    parent[max(a, b)] = min(a, b)
            current.append(index)
        previous = current
    groups: dict[int, list[np.ndarray]] = {}
    for index, (y, start, stop) in enumerate(runs):
        xs = np.arange(start, stop)
        groups.setdefault(find(index), []).append(np.stack([np.full_like(xs, y), xs], axis=1))
    return [np.concatenate(parts) for parts in groups.values()]


def measure_aponeuroses(mask: np.ndarray) -> list[dict[str, float]] | None:
    """Superficial and deep band geometry of one bool mask, or None without two long bands."""
    s = mask.shape[0]
    bands = [c for c in components(mask) if np.ptp(c[:, 1]) >= 0.15 * s]
    if len(bands) < 2:
        return None
    bands.sort(key=lambda c: c[:, 0].mean())
    return [_band(bands[0], s), _band(bands[-1], s)]


def _band(pixels: np.ndarray, s: int) -> dict[str, float]:
    columns = np.unique(pixels[:, 1])
    centres = np.array([pixels[pixels[:, 1] == x, 0].mean() for x in columns])
    counts = np.array([(pixels[:, 1] == x).sum() for x in columns])
    x = (columns + 0.5) / s
    y = (centres + 0.5) / s
    left, right = float(x.min()), float(x.max())
    mid, half = (left + right) / 2, max((right - left) / 2, 1e-6)
    u = (x - mid) / half
    curvature, slope, depth = np.polyfit(u, y, 2)  # y = depth + slope*u + curvature*u^2
    return {
        "depth": float(depth),
        "thickness": float(np.median(counts)) / s,
        "tilt": math.degrees(math.atan(-slope / half)),
        "curvature": float(curvature) / half,
        "left": left,
        "right": right,
    }


def measure_fascicles(mask: np.ndarray) -> list[dict[str, float]]:
    """Angle (degrees, rising right positive), length, thickness and centre of each segment."""
    s = mask.shape[0]
    out = []
    for c in components(mask):
        if len(c) < 6:
            continue
        points = (c[:, ::-1] + 0.5) / s * np.array([1.0, -1.0])  # (x, y up)
        centre = points.mean(axis=0)
        _, _, vt = np.linalg.svd(points - centre, full_matrices=False)
        axis = vt[0] if vt[0][0] >= 0 else -vt[0]
        length = float(np.ptp((points - centre) @ axis)) + 1 / s
        if length < 4 / s:
            continue
        out.append(
            {
                "angle": math.degrees(math.atan2(axis[1], axis[0])),
                "length": length,
                "thickness": len(c) / s**2 / length,
                "x": float(centre[0]),
                "y": float(centre[1]),
            }
        )
    return out


def fascicle_spacing(fascicles: list[dict[str, float]]) -> float | None:
    """Median perpendicular gap between neighbouring (non-collinear) fascicle lines of a mask."""
    if len(fascicles) < 3:
        return None
    theta = math.radians(float(np.median([f["angle"] for f in fascicles])))
    normal = np.array([-math.sin(theta), math.cos(theta)])
    offsets = np.sort([f["x"] * normal[0] + f["y"] * normal[1] for f in fascicles])
    thickness = float(np.median([f["thickness"] for f in fascicles]))
    gaps = np.diff(offsets)
    gaps = gaps[gaps > 2 * thickness]  # segments of one line broken in two are not a gap
    return float(np.median(gaps)) if len(gaps) else None


def fit_mask_params(
    aponeurosis_dir: str | Path, fascicle_dir: str | Path
) -> tuple[MaskParams, dict[str, int]]:
    """MaskParams fitted to the real masks in two folders of 0/255 PNGs, and sample counts."""
    q: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        q.setdefault(name, []).append(value)

    deep_tilts: dict[str, float] = {}
    apo_files = sorted(Path(aponeurosis_dir).glob("*.png"))
    for file in apo_files:
        bands = measure_aponeuroses(square_mask(file))
        if bands is None:
            continue
        superficial, deep = bands
        add("superficial_depth", superficial["depth"])
        add("deep_gap", deep["depth"] - superficial["depth"])
        add("superficial_thickness", superficial["thickness"])
        add("deep_thickness", deep["thickness"])
        add("superficial_tilt", superficial["tilt"])
        add("deep_tilt", deep["tilt"])
        for band in bands:
            add("curvature", band["curvature"])
            add("band_left", band["left"])
            add("band_right", band["right"])
        deep_tilts[file.name] = deep["tilt"]
    fasc_files = sorted(Path(fascicle_dir).glob("*.png"))
    for file in fasc_files:
        fascicles = measure_fascicles(square_mask(file))
        for f in fascicles:
            add("fascicle_length", f["length"])
            add("fascicle_thickness", f["thickness"])
            if file.name in deep_tilts:  # pennation needs the deep aponeurosis of the same image
                add("pennation", f["angle"] - deep_tilts[file.name])
        spacing = fascicle_spacing(fascicles)
        if spacing is not None:
            add("fascicle_spacing", spacing)
    missing = [f.name for f in dataclasses.fields(MaskParams) if f.name not in q]
    if missing:
        raise ValueError(f"No real masks to measure {', '.join(missing)} on")
    ranges = {
        name: tuple(round(float(v), 3) for v in np.percentile(values, [5, 95]))
        for name, values in q.items()
    }
    ranges["band_left"] = (0.0, ranges["band_left"][1])  # bands often run off the crop edges
    ranges["band_right"] = (ranges["band_right"][0], 1.0)
    counts = {name: len(values) for name, values in q.items()}
    counts["aponeurosis_masks"], counts["fascicle_masks"] = len(apo_files), len(fasc_files)
    return MaskParams(**ranges), counts
