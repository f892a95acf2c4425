"""Throughput of ganengine on the current device: training images/s and generation images/s.

    python -m benchmarks.bench_ganengine --preset cpu-demo --threads 1
    python -m benchmarks.bench_ganengine --preset default --resolution 128 --device cuda

Training speed is read from train()'s own Progress reports over a window after a warm-up window;
generation speed times generate() end to end (checkpoint load, latents, forward, uint8 copy) and the
bare EMA-generator forward pass separately.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from ganengine import PRESETS, Progress, generate, load_generator, train
from ganengine.device import pick_device
from ganengine.generate import image_latents


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu-demo")
    parser.add_argument("--resolution", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--generate-batches", type=int, default=10, help="timed batches of 64")
    parser.add_argument("--device", help="default: CUDA if available")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    overrides = {"resolution": args.resolution, "batch_size": args.batch_size}
    config = dataclasses.replace(
        PRESETS[args.preset],
        **{name: value for name, value in overrides.items() if value is not None},
        steps=2 * args.steps,  # the first window warms up, the second is measured
        progress_every=args.steps,
        sample_every=2 * args.steps,
        checkpoint_every=2 * args.steps,
    ).validate()
    device = pick_device(args.device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(
        f"model {config.model} at {config.resolution}px, batch {config.batch_size}, "
        f"base_channels {config.base_channels}, latent_dim {config.latent_dim}"
    )

    images = torch.rand(256, 1, config.resolution, config.resolution) * 2 - 1
    reports: list[Progress] = []
    with tempfile.TemporaryDirectory() as tmp:
        result = train(config, images, Path(tmp), on_progress=reports.append, device=device)
        print(f"train: {reports[-1].images_per_second:.1f} images/s "
              f"({reports[-1].images_per_second / config.batch_size:.2f} steps/s)")  # fmt: skip
        _bench_generation(result.checkpoint_path, args.generate_batches, device)


def _bench_generation(checkpoint: Path, batches: int, device: torch.device) -> None:
    count = 64 * batches
    generate(checkpoint, 64, device=device)  # warm-up
    start = time.perf_counter()
    generate(checkpoint, count, batch_size=64, device=device)
    print(f"generate() at batch 64: {count / (time.perf_counter() - start):.1f} images/s")

    generator, config = load_generator(checkpoint, device)
    z = image_latents(range(64), config.latent_dim).to(device)
    with torch.inference_mode():
        generator(z)
        _sync(device)
        start = time.perf_counter()
        for _ in range(batches):
            generator(z)
        _sync(device)
    print(f"generator forward at batch 64: {count / (time.perf_counter() - start):.1f} images/s")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    main()
