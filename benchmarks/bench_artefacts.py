"""Grid, checkerboard and border-line artefacts of a briefly trained generator, against real images.

    python -m benchmarks.bench_artefacts                           # FastGAN cpu-demo, 1,500 steps
    python -m benchmarks.bench_artefacts --baseline                # the same with the old layers
    python -m benchmarks.bench_artefacts --padding zeros --steps 400   # the border lines' cause
    python -m benchmarks.bench_artefacts --family mask_to_image --steps 300
    python -m benchmarks.bench_artefacts --checkpoint run/checkpoint-latest.pt

Trains the family's `cpu-demo` preset on ../shared/data/muscle-us/images for --steps steps (or
takes --checkpoint), generates 256 images and prints ganengine.metrics.spectrum.periodic_peaks
for them and for the real images at the same size: about 1 means no pattern at that period.
It also prints ganengine.metrics.borders.border_lines: the step from the outermost row or column
of each side into the next (and from the second into the third) over the mean step between
neighbouring rows and columns; the generated figure over the real one is about 1 when the
generator draws no line along its borders. --padding sets the unconditional
generator's conv padding (config.padding; default: the preset's).
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
from ganengine.metrics.borders import border_lines
from ganengine.metrics.spectrum import periodic_peaks

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "muscle-us" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="unconditional", choices=families.names())
    parser.add_argument("--steps", type=int, default=1_500)
    parser.add_argument("--checkpoint", type=Path, help="measure this checkpoint instead")
    parser.add_argument("--baseline", action="store_true", help="the layers before resample.py")
    parser.add_argument("--padding", choices=("zeros", "reflect"), help="unconditional only")
    parser.add_argument("--grid", type=Path, default=Path("artefacts-grid.png"))
    args = parser.parse_args()
    family = families.get(args.family)
    overrides = {"padding": args.padding} if args.padding else {}
    if overrides and args.family != "unconditional":
        parser.error("--padding applies to the unconditional family only")
    if args.baseline:
        _use_baseline_layers()
    checkpoint = args.checkpoint
    with tempfile.TemporaryDirectory() as out:
        if checkpoint is None:
            config = family.preset("cpu-demo", steps=args.steps, **overrides)
            real = load_folder(DATA, config.resolution)
            started = time.perf_counter()
            checkpoint = family.train(config, real, out).checkpoint_path
            print(
                f"trained {args.family} cpu-demo {args.steps} steps in "
                f"{time.perf_counter() - started:.0f} s{' (baseline layers)' * args.baseline}"
                + (f", padding {config.padding}" if hasattr(config, "padding") else "")
            )
        generated = family.generate(checkpoint, 256, seed=1_000, device="cpu").images
    real = to_uint8(load_folder(DATA, generated.shape[1]))
    lines = {}
    for name, images in (("real", real), ("generated", generated)):
        peaks = periodic_peaks(images)
        lines[name] = border_lines(images)
        print(
            f"{name:>9} ({len(images)} at {images.shape[1]} px): "
            + ", ".join(f"period {p}: {v:.2f}" for p, v in peaks.items())
            + "; border steps over interior: "
            + ", ".join(f"{v:.2f}" for v in lines[name])
        )
    print(
        "border lines, generated over real (about 1: no line): "
        + ", ".join(
            f"{('outermost', 'second')[depth]} {g / r:.2f}"
            for depth, (g, r) in enumerate(zip(lines["generated"], lines["real"], strict=True))
        )
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
