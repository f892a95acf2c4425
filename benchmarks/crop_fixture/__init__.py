"""The hand-annotated field-of-view fixture: `load_cases()` turns annotations.json into cases.

Real images are read from the shared data folder (never copied here), DICOM cases from pydicom's
bundled test files, phantom cases are regenerated from their seed (truth by construction). See
README.md in this folder for how the annotations were made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import PIL.Image
from PIL import ImageDraw

from tests.phantoms import scanner_screen

ANNOTATIONS = Path(__file__).with_name("annotations.json")
UI_CONTRAST = 40
DATA_ROOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@dataclass(frozen=True)
class Case:
    name: str
    group: str  # "muscle-us", "timtrack-cc0/dataset_1", "dicom", "phantom", ...
    frames: list[np.ndarray]  # uint8 H x W or H x W x 3
    field: np.ndarray  # bool H x W: the annotated imaging field
    ui: np.ndarray  # bool H x W: annotated UI (boxes for real images, exact pixels for phantoms)


def load_cases(data_root: Path = DATA_ROOT, groups: set[str] | None = None) -> Iterator[Case | str]:
    """Each annotated case, or a one-line message for a case whose image is not on this machine."""
    for entry in json.loads(ANNOTATIONS.read_text()):
        if groups is not None and entry["group"] not in groups:
            continue
        if "phantom" in entry:
            spec = dict(entry["phantom"])
            seed = spec.pop("seed")
            if "size" in spec:
                spec["size"] = tuple(spec["size"])
            phantom = scanner_screen(seed, **spec)
            name = f"phantom-{seed}-" + "-".join(f"{k}={v}" for k, v in sorted(spec.items()))
            yield Case(name, "phantom", phantom.frames, phantom.field, phantom.ui)
            continue
        if "dicom" in entry:
            frames = _dicom_frames(entry["dicom"])
            name = entry["dicom"]
        else:
            path = data_root / entry["path"]
            if not path.exists():
                yield f"skipped {entry['path']}: not found under {data_root}"
                continue
            with PIL.Image.open(path) as image:
                frames = [np.asarray(image.convert("RGB" if image.mode == "RGB" else "L"))]
            name = entry["path"]
        size = frames[0].shape[:2]
        yield Case(
            name,
            entry["group"],
            frames,
            _polygon(entry["field"], size),
            _boxes(entry["ui"], frames[0]),
        )


def _dicom_frames(name: str) -> list[np.ndarray]:
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.pixels import apply_color_lut

    dataset = pydicom.dcmread(get_testdata_file(name))
    pixels = dataset.pixel_array  # pydicom hands YBR colour over as RGB
    if dataset.PhotometricInterpretation == "PALETTE COLOR":
        # The stored values are palette indices; the 16-bit palette maps them to colour.
        pixels = apply_color_lut(pixels, dataset) >> 8
    return [
        np.asarray(frame, dtype=np.uint8) for frame in (pixels if pixels.ndim == 4 else [pixels])
    ]


def _polygon(points: list[list[int]], size: tuple[int, int]) -> np.ndarray:
    # Vertices are pixel-corner coordinates: [[0, 0], [w, 0], [w, h], [0, h]] is the whole frame.
    image = PIL.Image.new("1", (size[1], size[0]), 0)
    ImageDraw.Draw(image).polygon([tuple(p) for p in points], fill=1, outline=0)
    mask = np.asarray(image, dtype=bool)
    if len(points) == 4 and all(p[0] in (points[0][0], points[2][0]) for p in points):
        # An axis-aligned rectangle: exact, without the rasteriser's half-open edges.
        (left, top), (right, bottom) = points[0], points[2]
        mask = np.zeros(size, dtype=bool)
        mask[top:bottom, left:right] = True
    return mask


def _boxes(boxes: list, frame: np.ndarray) -> np.ndarray:
    """The UI pixels of the annotated boxes.

    A plain box [left, top, right, bottom] holds a mark on a flat ground (a ruler, a marker,
    text): its UI is what stands out from the box's median grey level by more than UI_CONTRAST,
    or is coloured. {"box": [...], "level": v} is a mark drawn in one level over tissue: the box's
    pixels within 2 of v. {"box": [...], "all": true}: every pixel of the box (a shaded icon, a
    tick). {"line": [[x0, y0], [x1, y1]], "width": w}: every pixel of a straight stroke w pixels
    wide between two pixel centres (a dashed line over tissue, its gaps included).
    """
    gray = frame if frame.ndim == 2 else frame[..., :3] @ np.array([0.299, 0.587, 0.114])
    colour = np.zeros(gray.shape) if frame.ndim == 2 else np.ptp(frame[..., :3].astype(int), axis=2)
    mask = np.zeros(gray.shape, dtype=bool)
    for item in boxes:
        spec = item if isinstance(item, dict) else {"box": item}
        if "line" in spec:
            stroke = PIL.Image.new("1", (gray.shape[1], gray.shape[0]), 0)
            points = [tuple(p) for p in spec["line"]]
            ImageDraw.Draw(stroke).line(points, fill=1, width=spec["width"])
            mask |= np.asarray(stroke, dtype=bool)
            continue
        left, top, right, bottom = spec["box"]
        window = gray[top:bottom, left:right]
        if spec.get("all"):
            marks = np.ones(window.shape, dtype=bool)
        elif "level" in spec:
            marks = np.abs(window - spec["level"]) <= 2
        else:
            marks = (np.abs(window - np.median(window)) > UI_CONTRAST) | (
                colour[top:bottom, left:right] > UI_CONTRAST
            )
        mask[top:bottom, left:right] |= marks
    return mask
