"""Train the mask-to-image CycleGAN on muscle-us and report the aponeurosis IoU of F.

    python -m benchmarks.bench_cyclegan [--preset NAME | --config FILE] [--minutes 60] [--out DIR]

Real images: every muscle-us image except the held-out half of the aponeurosis-masked ones
(even-numbered dlt_apo_img files), which are only used for the IoU; masks: synthetic from
ganengine.masks. Prints one line per report, the training time and IoU mean ± sd (N) on the
held-out images (Cronin, Finni & Seynnes 2020 reported 0.312 ± 0.159).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganengine import families
from ganengine.cyclegan import CycleGANConfig, UnpairedData, aponeurosis_iou
from ganengine.cyclegan.data import training_masks
from ganengine.data import prepare_arrays
from ganengine.loop import train
from ganengine.progress import Progress

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "muscle-us"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="cpu-demo")
    parser.add_argument("--config", type=Path, help="CycleGANConfig JSON/YAML; overrides --preset")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--minutes", type=float, default=60.0, help="time limit")
    parser.add_argument("--masks", type=int, default=2000, help="synthetic masks to train on")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_cyclegan"))
    parser.add_argument("--evaluate", type=Path, metavar="CKPT", help="only score this checkpoint")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.config:
        config = CycleGANConfig.from_file(args.config)
    else:
        config = CycleGANConfig.preset(args.preset)
    if args.steps:
        config = dataclasses.replace(config, steps=args.steps)
    r = config.resolution
    args.out.mkdir(parents=True, exist_ok=True)

    image_dir, mask_dir = DATA / "images", DATA / "masks" / "aponeurosis"
    masked = sorted(p.name for p in mask_dir.glob("*.png") if (image_dir / p.name).is_file())
    held_out = masked[1::2]
    train_files = sorted(p for p in image_dir.glob("*.png") if p.name not in set(held_out))
    if args.evaluate:
        _score(args.evaluate, image_dir, mask_dir, held_out, masked[0::2])
        return
    images = prepare_arrays((_gray(p) for p in train_files), r)
    masks = training_masks(r, seed=10_000, count=args.masks)
    print(f"{len(images)} training images, {len(masks)} masks, {len(held_out)} held out; {config}")

    deadline = time.perf_counter() + args.minutes * 60
    start = time.perf_counter()
    result = train(
        families.get("mask_to_image"),
        config,
        UnpairedData(images, masks),
        args.out,
        on_progress=lambda p: _report(p, args.out),
        should_stop=lambda: time.perf_counter() > deadline,
    )
    minutes = (time.perf_counter() - start) / 60
    print(f"trained {result.step} steps in {minutes:.1f} min ({args.threads} threads, CPU)")
    _score(result.checkpoint_path, image_dir, mask_dir, held_out, masked[0::2])


def _score(
    checkpoint: Path, image_dir: Path, mask_dir: Path, held_out: list[str], seen: list[str]
) -> None:
    start = time.perf_counter()
    for label, names in (("held-out", held_out), ("training", seen)):
        for min_extent in (0.0, 0.15):  # raw F labels; only bands >= 15% of the width
            score = aponeurosis_iou(
                checkpoint, image_dir, mask_dir, names=names, min_extent=min_extent
            )
            print(f"{label} images, min_extent {min_extent}: {score}")
    print(f"scored in {time.perf_counter() - start:.0f} s")


def _gray(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("L"))


def _report(p: Progress, out: Path) -> None:
    losses = " ".join(f"{k}={v:.3f}" for k, v in p.losses.items())
    print(f"step {p.step}/{p.total_steps} {losses} {p.images_per_second:.1f} img/s", flush=True)
    if p.samples is not None:
        Image.fromarray(p.samples).save(out / f"samples-{p.step:06d}.png")


if __name__ == "__main__":
    main()
