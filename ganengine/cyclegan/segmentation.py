"""Segmentation of real images by F (image -> mask) and its aponeurosis IoU vs manual masks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganengine.cyclegan.data import images_to_tensor, tensor_to_labels
from ganengine.cyclegan.generation import load_cyclegan
from ganengine.data import DataError, prepare_arrays
from ganengine.masks import APONEUROSIS, components, square_mask


def segment(
    checkpoint: str | Path,
    images: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 16,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Label maps uint8 [N, R, R] (0 background, 1 aponeurosis, 2 fascicle) of real images.

    images: uint8 [N, R, R] or float [N, 1, R, R] in [-1, 1] (ganengine.data), at the
    checkpoint's resolution.
    """
    f, config = load_cyclegan(checkpoint, "f", device)
    device = next(f.parameters()).device
    x = images if isinstance(images, torch.Tensor) else images_to_tensor(images)
    r = config.resolution
    if x.ndim != 4 or x.shape[1:] != (1, r, r):
        raise ValueError(f"images must be [N, {r}, {r}] for this checkpoint, not {list(x.shape)}")
    out = np.empty((len(x), r, r), dtype=np.uint8)
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size].to(device, torch.float32)
            out[start : start + len(batch)] = tensor_to_labels(f(batch))
    return out


def iou(predicted: np.ndarray, target: np.ndarray) -> float:
    """Intersection over union of two boolean masks; 1.0 when both are empty."""
    union = np.logical_or(predicted, target).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(predicted, target).sum() / union)


def long_bands(binary: np.ndarray, min_extent: float) -> np.ndarray:
    """Keep the 8-connected components at least `min_extent` of the width long (x extent).

    Aponeuroses cross most of the field of view; short bright fascicles and speckle that F
    labels aponeurosis do not.
    """
    out = np.zeros_like(binary, dtype=bool)
    for pixels in components(binary):
        if np.ptp(pixels[:, 1]) + 1 >= min_extent * binary.shape[1]:
            out[pixels[:, 0], pixels[:, 1]] = True
    return out


@dataclass
class IoUResult:
    mean: float
    sd: float  # sample standard deviation (n - 1), as papers report "mean ± sd"
    n: int
    per_image: dict[str, float]  # file name -> IoU

    def __str__(self) -> str:
        return f"aponeurosis IoU {self.mean:.3f} ± {self.sd:.3f} (N = {self.n})"


def aponeurosis_iou(
    checkpoint: str | Path,
    image_dir: str | Path,
    mask_dir: str | Path,
    *,
    names: list[str] | None = None,
    min_extent: float = 0.0,
    device: str | torch.device | None = None,
) -> IoUResult:
    """IoU of F's aponeurosis label against the manual 0/255 masks of the same file names.

    Only images with a mask of the same name count (or the given `names`). Image and mask are
    centre-cropped to a square and resized to the checkpoint's resolution the same way, so the
    scanner UI around the field of view is treated alike in both; IoU is computed at that size.
    min_extent > 0 first drops predicted aponeurosis pieces shorter than that fraction of the
    width (long_bands); 0 scores F's raw labels.
    """
    image_dir, mask_dir = Path(image_dir), Path(mask_dir)
    if names is None:
        names = sorted(p.name for p in mask_dir.glob("*.png") if (image_dir / p.name).is_file())
    if not names:
        raise DataError(f"No images in {image_dir} have a mask in {mask_dir}")
    _, config = load_cyclegan(checkpoint, "f", "cpu")
    r = config.resolution
    grays = []
    for name in names:
        try:
            with Image.open(image_dir / name) as img:
                grays.append(np.asarray(img.convert("L")))
        except OSError as exc:
            raise DataError(f"Cannot read image {image_dir / name}: {exc}") from exc
    labels = segment(checkpoint, prepare_arrays(grays, r), device=device)
    scores = {}
    for name, predicted in zip(names, labels, strict=True):
        aponeurosis = predicted == APONEUROSIS
        if min_extent > 0:
            aponeurosis = long_bands(aponeurosis, min_extent)
        scores[name] = iou(aponeurosis, square_mask(mask_dir / name, r))
    values = np.array(list(scores.values()))
    sd = float(values.std(ddof=1)) if len(values) > 1 else math.nan
    return IoUResult(mean=float(values.mean()), sd=sd, n=len(values), per_image=scores)
