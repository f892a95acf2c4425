"""Sanity figures for ganengine.metrics on the real muscle-us images.

    python -m benchmarks.bench_metrics [--resolution 64] [--no-inception]

Two random halves of the real images should be indistinguishable (C2ST AUC near 0.5, KID near
0); real images against speckle noise of the same mean and spread should not (AUC near 1, KID
clearly above 0). FID is printed too, to show its bias: it is well above 0 between two halves
of one set. Prints each figure with its N and wall-clock time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ganengine.data import load_folder
from ganengine.images import to_uint8
from ganengine.metrics import (
    classifier_two_sample_test,
    fid,
    inception_features,
    kid,
    near_copies,
    nearest_training_images,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "muscle-us" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--no-inception", action="store_true", help="skip KID/FID")
    args = parser.parse_args()

    real = to_uint8(load_folder(DATA, args.resolution))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(real))
    first, second = real[order[: len(real) // 2]], real[order[len(real) // 2 :]]
    # Speckle-like noise with the real images' mean and spread, one image per real image.
    noise = rng.rayleigh(real.std(), size=real.shape) * real.mean() / (real.std() * 1.2533)
    noise = noise.clip(0, 255).astype(np.uint8)
    print(
        f"{len(real)} real images at {args.resolution} px; halves of {len(first)} and {len(second)}"
    )

    for name, a, b in (("halves", first, second), ("real vs noise", real, noise)):
        start = time.perf_counter()
        result = classifier_two_sample_test(a, b)
        print(
            f"C2ST {name}: AUC {result.auc:.3f} [{result.auc_ci[0]:.3f}, {result.auc_ci[1]:.3f}] "
            f"(n_real={result.n_real}, n_fake={result.n_fake}, {result.folds} folds, "
            f"{result.epochs} epochs) in {time.perf_counter() - start:.1f} s"
        )

    start = time.perf_counter()
    matches = nearest_training_images(second, first)
    ratios = np.array([m.ratio for m in matches])
    print(
        f"memorisation, second half against first: {len(near_copies(matches))} near-copies of "
        f"{len(matches)}, median ratio {np.median(ratios):.2f}, min {ratios.min():.2f} "
        f"in {time.perf_counter() - start:.1f} s"
    )

    if args.no_inception:
        return
    start = time.perf_counter()
    features = inception_features(np.concatenate([real, noise]))
    print(f"Inception features of {len(features)} images in {time.perf_counter() - start:.1f} s")
    real_f, noise_f = features[: len(real)], features[len(real) :]
    half_f = (real_f[order[: len(real) // 2]], real_f[order[len(real) // 2 :]])
    for name, (a, b) in (("halves", half_f), ("real vs noise", (real_f, noise_f))):
        k, f = kid(a, b), fid(a, b)
        print(
            f"{name}: KID {k.kid:.5f} ± {k.kid_std:.5f} (subsets of {k.subset_size}), "
            f"FID {f.fid:.2f} (n_real={f.n_real}, n_fake={f.n_fake})"
        )


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
