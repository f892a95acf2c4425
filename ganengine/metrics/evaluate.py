"""One JSON-serialisable evaluation report: KID/FID, the classifier two-sample test, memorisation.

Every section states the number of images it used: FID in particular cannot be compared across
different N.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganengine import families
from ganengine.images import to_uint8
from ganengine.metrics._pixels import check_images
from ganengine.metrics.c2st import classifier_two_sample_test
from ganengine.metrics.distances import fid, kid
from ganengine.metrics.inception import inception_features, weights_path
from ganengine.metrics.memorisation import (
    NEAR_COPY_RATIO,
    NEAR_COPY_RELATIVE,
    near_copies,
    nearest_training_images,
)

METRICS = ("kid", "fid", "c2st", "memorisation")
C2ST_MAX_RESOLUTION = 128
HEADLINE = "the highest AUC among the observers trained from scratch; each one's under observers"


def evaluate(
    checkpoint_or_images: str | Path | np.ndarray,
    training_images: np.ndarray | torch.Tensor,
    *,
    count: int,
    real_images: np.ndarray | torch.Tensor | None = None,
    seed: int = 0,
    metrics: Collection[str] = METRICS,
    inception_weights: str | Path | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    c2st_folds: int = 5,
    c2st_epochs: int = 40,
    near_copy_ratio: float = NEAR_COPY_RATIO,
    device: str | torch.device | None = None,
) -> dict[str, Any]:
    """Evaluate `count` generated images against real ones.

    `checkpoint_or_images` is a checkpoint of any registered family, whose images of seeds
    seed .. seed + count - 1 are generated (for a CycleGAN: G's images of the synthetic masks of
    those seeds), or uint8 images (the first `count` are used). Images are uint8 [N, H, W]
    (grey) or [N, H, W, 3] (RGB) or, as `load_folder` returns them, float [N, C, H, W] in
    [-1, 1]. KID, FID and C2ST compare
    with `real_images`, ideally held out from training, else with the training
    images; the memorisation check always searches the training images.
    """
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown or not metrics:
        raise ValueError(f"Unknown metrics {unknown}; choose from {', '.join(METRICS)}")
    if count < 2:
        raise ValueError(f"count must be at least 2, got {count}")
    training = _as_uint8(training_images, "training images")
    real = training if real_images is None else _as_uint8(real_images, "real images")
    report: dict[str, Any] = {
        "n_generated": count,
        "n_real": len(real),
        "n_training": len(training),
    }
    if isinstance(checkpoint_or_images, np.ndarray):
        if len(checkpoint_or_images) < count:
            raise ValueError(f"count is {count} but only {len(checkpoint_or_images)} images given")
        generated = _as_uint8(checkpoint_or_images[:count], "generated images")
        report["generated"] = {"source": "images"}
    else:
        family = families.of_checkpoint(checkpoint_or_images)
        # Generated image i is the image of seed + i (for a mask-to-image family: of its mask).
        generated = family.generate(checkpoint_or_images, count, seed=seed, device=device).images
        report["generated"] = {
            "checkpoint": str(checkpoint_or_images),
            "family": family.name,
            "seed": seed,
        }
    report["real"] = "training images" if real_images is None else "held-out images"
    report["resolution"] = list(generated.shape[1:])

    if {"kid", "fid"} & set(metrics):
        options = {"weights": inception_weights, "device": device}
        real_features = inception_features(real, **options)
        fake_features = inception_features(generated, **options)
        report["inception"] = {"weights": str(weights_path(inception_weights))}
        if "kid" in metrics:
            result = kid(
                real_features, fake_features, subsets=kid_subsets, subset_size=kid_subset_size
            )
            report["kid"] = asdict(result)
        if "fid" in metrics:
            report["fid"] = asdict(fid(real_features, fake_features))
    if "c2st" in metrics:
        # The CNN sees the images at their own size up to 128 px: shrinking them further would
        # hide exactly the fine texture and artefacts that give a generator away. The spectrum
        # observer always sees them whole.
        resolution = min(max(generated.shape[1:]), C2ST_MAX_RESOLUTION)
        result = classifier_two_sample_test(
            real,
            generated,
            folds=c2st_folds,
            epochs=c2st_epochs,
            seed=seed,
            resolution=resolution,
            device=device,
        )
        report["c2st"] = asdict(result) | {"resolution": resolution, "headline": HEADLINE}
    if "memorisation" in metrics:
        matches = nearest_training_images(generated, training)
        copies = near_copies(matches, near_copy_ratio)
        ratios = [m.ratio for m in matches]
        report["memorisation"] = {
            "metric": "RMS pixel distance at 32 px; ratio = nearest / second-nearest; "
            "relative = nearest / median training nearest-neighbour distance",
            "threshold": near_copy_ratio,
            "relative_threshold": NEAR_COPY_RELATIVE,
            "n_generated": len(matches),
            "n_training": len(training),
            "near_copies": [m.index for m in copies],
            "min_ratio": min(ratios),
            "median_ratio": float(np.median(ratios)),
            "min_relative_distance": min(m.relative_distance for m in matches),
            "matches": [m.to_dict() for m in matches],
        }
    return report


def _as_uint8(images: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    if isinstance(images, torch.Tensor) and images.ndim == 4 and images.shape[1] in (1, 3):
        return to_uint8(images)  # [N, H, W] grey, [N, H, W, 3] RGB
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        return check_images(images, name)
    raise ValueError(
        f"{name} must be uint8 [N, H, W] or [N, H, W, 3], or float [N, 1 or 3, H, W] in [-1, 1], "
        f"got {type(images).__name__} {tuple(images.shape)}"
    )


def checkpoint_resolution(path: str | Path) -> int:
    """The image side of any family's checkpoint, read and validated by its family."""
    return families.of_checkpoint(path).load_checkpoint(path)["config"].resolution
