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

A colour image's signature holds its three channels (32 x 32 x 3), compared the same way: the
mean is removed over all of them, so a change of brightness or contrast still counts as the same
image, while two images that differ only in hue are far apart (a red and a green copy of one
picture put their pattern in different channels). Grey images keep their 32 x 32 signatures and
the figures above. Measured by the same benchmark on 253 colour pictures made of three
consecutive scans as their channels: distinct pictures at least 0.154 apart; JPEG at quality 70
within 0.040, +10% brightness within 0.031, noise of 8 grey levels within 0.050 (96% of them
within the threshold), resized to 80% within 0.057 (88%); the picture with its channels rotated
(the same luminance pattern in other hues) at least 0.215 away, median 0.763.
A grey image is compared with grey images only and a colour one with colour
ones only: a colour picture and a grey copy of it are not counted as near-duplicates.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from quiz.imaging import render_panel

SIGNATURE_SIDE = 32
NEAR_DUPLICATE_DISTANCE = 0.05  # see above
# A signature's length in bytes: grey, or colour (RGB).
_SIGNATURE_LENGTHS = (SIGNATURE_SIDE * SIGNATURE_SIDE, SIGNATURE_SIDE * SIGNATURE_SIDE * 3)


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


class _Signatures:
    """The unit vectors of one signature length, and the names of their images."""

    def __init__(self, length: int) -> None:
        self.names: list[str] = []
        # Rows 0 .. len(names) - 1 are in use; the capacity doubles as images are added.
        self.vectors = np.zeros((64, length))

    def add(self, name: str, signature_bytes: bytes) -> None:
        if len(self.names) == len(self.vectors):
            self.vectors = np.concatenate([self.vectors, np.zeros_like(self.vectors)])
        self.vectors[len(self.names)] = _unit(signature_bytes)
        self.names.append(name)

    def nearest(self, signature_bytes: bytes) -> Match | None:
        if not self.names:
            return None
        distances = np.linalg.norm(self.vectors[: len(self.names)] - _unit(signature_bytes), axis=1)
        nearest = int(np.argmin(distances))
        return Match(self.names[nearest], float(distances[nearest]))


class SignatureIndex:
    """The signatures of a dataset's images, searched for the nearest one to a new image."""

    def __init__(self, entries: Iterable[tuple[str, bytes]] = ()) -> None:
        self._by_length = {length: _Signatures(length) for length in _SIGNATURE_LENGTHS}
        for name, signature_bytes in entries:
            self.add(name, signature_bytes)

    def add(self, name: str, signature_bytes: bytes) -> None:
        signatures = self._by_length.get(len(signature_bytes))
        if signatures is not None:  # None: an image stored before signatures were kept
            signatures.add(name, bytes(signature_bytes))

    def near_duplicate(self, signature_bytes: bytes) -> Match | None:
        """The closest indexed image of the same mode within NEAR_DUPLICATE_DISTANCE, or None."""
        signatures = self._by_length.get(len(signature_bytes))
        match = signatures.nearest(signature_bytes) if signatures is not None else None
        if match is None or match.distance > NEAR_DUPLICATE_DISTANCE:
            return None
        return match
