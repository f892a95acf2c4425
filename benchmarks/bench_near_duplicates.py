"""The near-duplicate distance (quiz.ingest.near_duplicates) on real scans and their re-encodings.

    python -m benchmarks.bench_near_duplicates [--data ../shared/data] [--every 10]

For every image of ../shared/data (muscle-us and both timtrack sets, whole frames) prints the
distance to its nearest other image, by group (percentiles, and how many fall within
NEAR_DUPLICATE_DISTANCE: those ingest would skip), then the distance of every `--every`-th image
to copies of itself that are the same scan to a person: JPEG at quality 70, resized to 80 %,
+10 % brightness, Gaussian noise (sigma 8 grey levels) and shifted by 3 pixels. Then the same
for colour pictures made of three consecutive scans as their red, green and blue channels (the
shared data holds no colour images): their nearest distinct picture, the same copies, and the
picture with its channels rotated (red to green, green to blue, blue to red: the same
luminance pattern in other hues), which must not count as the same image.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import PIL.Image

from quiz.ingest.near_duplicates import NEAR_DUPLICATE_DISTANCE, signature

GROUPS = {
    "muscle-us": "muscle-us/images/*.png",
    "timtrack dataset_1": "timtrack-cc0/dataset_1/**/*.png",
    "timtrack dataset_2": "timtrack-cc0/dataset_2/**/*.png",
}


def _unit(pixels: np.ndarray) -> np.ndarray:
    values = np.frombuffer(signature(pixels), dtype=np.uint8).astype(np.float64)
    values -= values.mean()
    return values / (np.linalg.norm(values) or 1.0)


def _copies(pixels: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels).save(buffer, format="JPEG", quality=70)
    height, width = pixels.shape[:2]
    return {
        "jpeg q70": np.asarray(PIL.Image.open(buffer)),
        "resized 80%": np.asarray(
            PIL.Image.fromarray(pixels).resize((int(width * 0.8), int(height * 0.8)))
        ),
        "+10% brightness": np.clip(pixels * 1.1 + 8, 0, 255).astype(np.uint8),
        "noise sigma 8": np.clip(pixels + rng.normal(0, 8, pixels.shape), 0, 255).astype(np.uint8),
        "shift 3 px": np.roll(pixels, 3, axis=1),
    }


def _colour_figures(images: list[np.ndarray], every: int) -> None:
    same_size = [
        np.stack(images[i : i + 3], axis=2)
        for i in range(0, len(images) - 2, 3)
        if images[i].shape == images[i + 1].shape == images[i + 2].shape
    ]
    vectors = np.stack([_unit(pixels) for pixels in same_size])
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1.0)
    nearest = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * similarity.max(axis=1)))
    print(f"\ncolour pictures (three scans as R, G, B): {len(same_size)}")
    print(f"nearest distinct picture: min {nearest.min():.3f}, p1 {np.percentile(nearest, 1):.3f}")
    rng = np.random.default_rng(0)
    distances: dict[str, list[float]] = {}
    for pixels, vector in zip(same_size[::every], vectors[::every], strict=True):
        copies = _copies(pixels, rng) | {"channels rotated": pixels[..., [2, 0, 1]]}
        for name, copy in copies.items():
            distances.setdefault(name, []).append(float(np.linalg.norm(vector - _unit(copy))))
    _print_copies(distances, len(same_size[::every]))


def _print_copies(distances: dict[str, list[float]], count: int) -> None:
    print(f"\ncopies of {count} images: distance to the original")
    print(f"{'copy':20} {'median':>7} {'min':>7} {'max':>7} {'within':>7}")
    for name, values in distances.items():
        within = np.mean(np.array(values) <= NEAR_DUPLICATE_DISTANCE)
        print(
            f"{name:20} {np.median(values):7.3f} {min(values):7.3f} {max(values):7.3f} "
            f"{within:7.0%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--every", type=int, default=10)
    args = parser.parse_args()
    names, groups, images = [], [], []
    for group, pattern in GROUPS.items():
        for path in sorted(args.data.glob(pattern)):
            names.append(path.name)
            groups.append(group)
            images.append(np.asarray(PIL.Image.open(path).convert("L")))
    if not images:
        raise SystemExit(f"no images under {args.data} (../shared/data is absent)")
    vectors = np.stack([_unit(pixels) for pixels in images])
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1.0)
    nearest = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * similarity.max(axis=1)))
    print(f"threshold NEAR_DUPLICATE_DISTANCE = {NEAR_DUPLICATE_DISTANCE}")
    print(f"{'group':20} {'images':>6} {'min':>7} {'p1':>7} {'p5':>7} {'median':>7} {'within':>7}")
    for group in GROUPS:
        mine = nearest[[index for index, g in enumerate(groups) if g == group]]
        p1, p5, median = np.percentile(mine, [1, 5, 50])
        within = int((mine <= NEAR_DUPLICATE_DISTANCE).sum())
        print(
            f"{group:20} {len(mine):6d} {mine.min():7.3f} {p1:7.3f} {p5:7.3f} {median:7.3f} "
            f"{within:7d}"
        )
    rng = np.random.default_rng(0)
    distances: dict[str, list[float]] = {}
    for pixels, vector in zip(images[:: args.every], vectors[:: args.every], strict=True):
        for name, copy in _copies(pixels, rng).items():
            distances.setdefault(name, []).append(float(np.linalg.norm(vector - _unit(copy))))
    _print_copies(distances, len(images[:: args.every]))
    _colour_figures(images, args.every)


if __name__ == "__main__":
    main()
