"""Near-duplicate images: the same scan exported twice, re-encoded, rescaled or re-windowed.

A near-duplicate in both parts of a dataset's split would put a training image among the real
panels under another name, so ingest skips it and names the image it duplicates.

Each image's signature is its panel region rendered at 32 x 32 (`render_panel`, as panels and
training see it). Two signatures are compared as unit vectors after removing their mean: the
distance is 0 for identical images, insensitive to brightness and contrast, and about 1.4 for
unrelated ones. Measured on the whole frames of ../shared/data (971 images) with
`python -m benchmarks.bench_near_duplicates`: a scan against itself JPEG-encoded at quality 70
lies within 0.025, with +10% brightness within 0.038, with noise of 8 grey levels within 0.050,
resized to 80% within 0.062 (78% of them within the threshold); distinct scans of timtrack
dataset_1 are at least 0.126 apart, while 112 of muscle-us's 762 images are within 0.005 of
another (the same scan in two of its source folders) and 2 of the 56 frames of the timtrack
dataset_2 cine loop are within 0.05 of their neighbour. At 0.05 every re-encoding but some
rescalings is caught; a frame that close to its neighbour is the same view a moment later, which
is as much a leak between the split's parts as a copy.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from quiz.imaging import render_panel

SIGNATURE_SIDE = 32
NEAR_DUPLICATE_DISTANCE = 0.05  # see above


def signature(panel_pixels: np.ndarray) -> bytes:
    """The bytes stored in Image.signature for an image whose panel region is `panel_pixels`."""
    return render_panel(panel_pixels, SIGNATURE_SIDE).tobytes()


def _unit(signature_bytes: bytes) -> np.ndarray:
    values = np.frombuffer(signature_bytes, dtype=np.uint8).astype(np.float64)
    values -= values.mean()
    norm = np.linalg.norm(values)
    # A flat image has no pattern to compare: it matches only another flat image (distance 0).
    return values / norm if norm else values


@dataclass(frozen=True)
class Match:
    name: str
    distance: float


class SignatureIndex:
    """The signatures of a dataset's images, searched for the nearest one to a new image."""

    def __init__(self, entries: Iterable[tuple[str, bytes]] = ()) -> None:
        self._names: list[str] = []
        # Rows 0 .. len(names) - 1 are in use; the capacity doubles as images are added.
        self._vectors = np.zeros((64, SIGNATURE_SIDE * SIGNATURE_SIDE))
        for name, signature_bytes in entries:
            self.add(name, signature_bytes)

    def add(self, name: str, signature_bytes: bytes) -> None:
        if len(signature_bytes) != SIGNATURE_SIDE * SIGNATURE_SIDE:
            return  # an image stored before signatures were kept
        if len(self._names) == len(self._vectors):
            self._vectors = np.concatenate([self._vectors, np.zeros_like(self._vectors)])
        self._vectors[len(self._names)] = _unit(signature_bytes)
        self._names.append(name)

    def near_duplicate(self, signature_bytes: bytes) -> Match | None:
        """The closest indexed image within NEAR_DUPLICATE_DISTANCE, or None."""
        if not self._names:
            return None
        vectors = self._vectors[: len(self._names)]
        distances = np.linalg.norm(vectors - _unit(signature_bytes), axis=1)
        nearest = int(np.argmin(distances))
        if distances[nearest] > NEAR_DUPLICATE_DISTANCE:
            return None
        return Match(self._names[nearest], float(distances[nearest]))
