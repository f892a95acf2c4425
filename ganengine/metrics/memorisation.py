"""Memorisation: each generated image's nearest training image, to keep near-copies out of a quiz.

The score is the distance ratio d(x, NN1) / d(x, NN2) of a generated image x to its nearest and
second-nearest training images. A copy of one training image is much closer to it than to any
other (ratio near 0), whereas a novel image sits about as far from its two nearest neighbours
(ratio near 1). Yoon et al. (2023, "Diffusion probabilistic models generalize when they fail to
memorize") and Gu et al. (2023, "On memorization in diffusion models") call a sample memorised
when the ratio is below 1/3; NEAR_COPY_RATIO uses that threshold. Unlike a raw distance, the ratio
needs no per-dataset calibration.

The ratio alone misses a copy of a frame that has a near-duplicate in the training set (both
neighbours are then close, so the ratio is near 1), and ultrasound sets often hold such frames.
So each match also carries `relative_distance`: its nearest distance divided by the median distance
between a training image and its nearest other training image. A sample closer to a training image
than a third of that typical spacing (NEAR_COPY_RELATIVE) is flagged too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ganengine.metrics._pixels import channels_first, check_images, downsample

NEAR_COPY_RATIO = 1 / 3
NEAR_COPY_RELATIVE = 1 / 3
_CANDIDATES = 8  # re-measured exactly: cdist's matrix-product shortcut blurs tiny distances


@dataclass(frozen=True)
class Match:
    index: int  # generated image
    nearest_index: int  # its nearest training image
    distance: float
    second_distance: float
    ratio: float  # distance / second_distance; 0 for an exact copy
    relative_distance: float  # distance / median training nearest-neighbour distance

    def is_near_copy(
        self, threshold: float = NEAR_COPY_RATIO, relative: float = NEAR_COPY_RELATIVE
    ) -> bool:
        return self.ratio < threshold or self.relative_distance < relative

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def nearest_training_images(
    generated: np.ndarray,
    training: np.ndarray,
    *,
    metric: Literal["l2", "cosine"] = "l2",
    size: int = 32,
    chunk_size: int = 256,
) -> list[Match]:
    """The nearest and second-nearest training image of every generated image.

    `generated` and `training` are either uint8 [N, H, W] grey or [N, H, W, 3] RGB images,
    compared as RMS differences of their values in [0, 1] (every channel of every pixel, so a
    copy must match in colour too) after an area downsample to at most `size` pixels a side
    (which forgives a pixel's shift or speckle), or float [N, D] features (e.g. Inception's)
    compared as they are. "cosine" compares directions only: the L2 distance of unit-length vectors.
    """
    gen, train = _vectors(generated, size, "generated"), _vectors(training, size, "training")
    if gen.shape[1] != train.shape[1]:
        raise ValueError(
            f"Generated and training sizes differ: {gen.shape[1:]} vs {train.shape[1:]}"
        )
    if len(train) < 2:
        raise ValueError("The memorisation check needs at least 2 training images")
    if metric == "cosine":
        gen, train = F.normalize(gen, dim=1), F.normalize(train, dim=1)
    elif metric != "l2":
        raise ValueError(f"metric must be 'l2' or 'cosine', got {metric!r}")
    scale = gen.shape[1] ** 0.5 if generated.ndim >= 3 else 1.0  # RMS per value for images
    spacing = _median_training_spacing(train, chunk_size) / scale
    k = min(_CANDIDATES, len(train))
    matches = []
    for start in range(0, len(gen), chunk_size):
        chunk = gen[start : start + chunk_size]
        candidates = torch.cdist(chunk, train).topk(k, largest=False).indices  # [B, k]
        exact = (chunk.unsqueeze(1) - train[candidates]).norm(dim=2) / scale  # [B, k]
        distances, order = exact.sort(dim=1)
        for row in range(len(chunk)):
            nearest, second = float(distances[row, 0]), float(distances[row, 1])
            matches.append(
                Match(
                    index=start + row,
                    nearest_index=int(candidates[row, order[row, 0]]),
                    distance=nearest,
                    second_distance=second,
                    ratio=nearest / second if nearest > 0 else 0.0,
                    relative_distance=nearest / spacing if spacing > 0 else float("inf"),
                )
            )
    return matches


def near_copies(
    matches: list[Match],
    threshold: float = NEAR_COPY_RATIO,
    relative: float = NEAR_COPY_RELATIVE,
) -> list[Match]:
    """The matches flagged by either test, closest copies first."""
    flagged = (m for m in matches if m.is_near_copy(threshold, relative))
    return sorted(flagged, key=lambda m: m.relative_distance)


def _median_training_spacing(train: torch.Tensor, chunk_size: int) -> float:
    """Median distance from a training vector to its nearest other training vector."""
    nearest = []
    for start in range(0, len(train), chunk_size):
        chunk = train[start : start + chunk_size]
        # Exact distances: the matrix-product shortcut would make them depend on the chunking.
        distances = torch.cdist(chunk, train, compute_mode="donot_use_mm_for_euclid_dist")
        rows = torch.arange(len(distances))
        distances[rows, rows + start] = float("inf")  # not itself
        nearest.append(distances.min(dim=1).values)
    return float(torch.cat(nearest).median())


def _vectors(data: np.ndarray, size: int, name: str) -> torch.Tensor:
    if data.ndim == 2 and np.issubdtype(data.dtype, np.floating):
        return torch.from_numpy(np.ascontiguousarray(data)).float()
    if data.ndim == 2 or not (data.ndim in (3, 4) and data.dtype == np.uint8):
        raise ValueError(
            f"{name} must be uint8 [N, H, W] or [N, H, W, 3] images or float [N, D] features, "
            f"got {data.dtype} {data.shape}"
        )
    return downsample(channels_first(check_images(data, name)), size).flatten(1)
