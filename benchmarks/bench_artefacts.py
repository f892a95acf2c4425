"""Grid and checkerboard artefacts of a briefly trained generator, against real images.

    python -m benchmarks.bench_artefacts                           # FastGAN cpu-demo, 1,500 steps
    python -m benchmarks.bench_artefacts --baseline                # the same with the old layers
    python -m benchmarks.bench_artefacts --family mask_to_image --steps 300
    python -m benchmarks.bench_artefacts --checkpoint run/checkpoint-latest.pt

Trains the family's `cpu-demo` preset on ../shared/data/muscle-us/images for --steps steps (or
takes --checkpoint), generates 256 images and prints ganengine.metrics.spectrum.periodic_peaks
for them and for the real images at the same size: about 1 means no pattern at that period.
--baseline swaps ganengine/resample.py's layers for what the networks had before it (nearest
upsampling in the generator, strided transposed convs in CycleGAN's, no blur in the
discriminators; FastGAN's discriminator keeps its new full-resolution first conv), so both
figures come from this one script. Also writes a sample grid PNG.
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from torch import nn

from ganengine import families, load_folder
from ganengine.images import to_uint8
from ganengine.metrics.spectrum import periodic_peaks

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "muscle-us" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="unconditional", choices=families.names())
    parser.add_argument("--steps", type=int, default=1_500)
    parser.add_argument("--checkpoint", type=Path, help="measure this checkpoint instead")
    parser.add_argument("--baseline", action="store_true", help="the layers before resample.py")
    parser.add_argument("--grid", type=Path, default=Path("artefacts-grid.png"))
    args = parser.parse_args()
    family = families.get(args.family)
    if args.baseline:
        _use_baseline_layers()
    checkpoint = args.checkpoint
    with tempfile.TemporaryDirectory() as out:
        if checkpoint is None:
            config = family.preset("cpu-demo", steps=args.steps)
            real = load_folder(DATA, config.resolution)
            started = time.perf_counter()
            checkpoint = family.train(config, real, out).checkpoint_path
            print(
                f"trained {args.family} cpu-demo {args.steps} steps in "
                f"{time.perf_counter() - started:.0f} s{' (baseline layers)' * args.baseline}"
            )
        generated = family.generate(checkpoint, 256, seed=1_000, device="cpu").images
    real = to_uint8(load_folder(DATA, generated.shape[1]))
    for name, images in (("real", real), ("generated", generated)):
        peaks = periodic_peaks(images)
        print(
            f"{name:>9} ({len(images)} at {images.shape[1]} px): "
            + ", ".join(f"period {p}: {v:.2f}" for p, v in peaks.items())
        )
    rows = [np.concatenate(list(generated[i * 8 : (i + 1) * 8]), axis=1) for i in range(4)]
    Image.fromarray(np.concatenate(rows)).save(args.grid)
    print(f"sample grid: {args.grid}")


def _use_baseline_layers() -> None:
    from ganengine.cyclegan import networks
    from ganengine.unconditional import dcgan, fastgan

    def nearest() -> nn.Module:
        return nn.Upsample(scale_factor=2, mode="nearest")

    def transposed_up_step(c_in: int, c_out: int) -> list[nn.Module]:  # the CycleGAN paper's
        return [
            nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1, bias=False),
            nn.InstanceNorm2d(c_out),
            nn.ReLU(inplace=True),
        ]

    for module in (fastgan, dcgan):
        module.upsample, module.Blur = nearest, nn.Identity
    networks.Blur, networks._up_step = nn.Identity, transposed_up_step


if __name__ == "__main__":
    main()
