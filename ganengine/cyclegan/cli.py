"""Command line for the mask-to-image family, registered into `python -m ganengine`:

    masks           --count N --out DIR [--size 256] [--seed S]   synthetic label masks as PNG
    masks           --fit DIR          fit MaskParams to DIR/aponeurosis and DIR/fascicle (JSON)
    train-cyclegan  --data DIR --out RUN [--preset cpu-demo] [--masks 2000] [--resume CKPT] ...
    generate-pairs  --checkpoint CKPT --count N --out DIR [--seed S]   image + mask PNG pairs
    segment         --checkpoint CKPT --data DIR --out DIR [--masks DIR]   F's masks (+ IoU)

Mask PNGs are grey levels: background 0, fascicle 128, aponeurosis 255 (like the real 0/255
masks). Bad input ends with the subcommand's usage, a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ganengine.checkpoint import CheckpointError
from ganengine.cli_support import StopOnCtrlC, device_from_flag, print_result, report_progress
from ganengine.cyclegan.config import CYCLEGAN_PRESETS
from ganengine.cyclegan.data import GREY_ONLY, TRAINING_MASKS, UnpairedData, training_masks
from ganengine.cyclegan.family import MaskToImageFamily
from ganengine.cyclegan.generation import generate_pairs
from ganengine.cyclegan.segmentation import aponeurosis_iou, segment
from ganengine.data import IMAGE_SUFFIXES, DataError, load_folder, prepare_arrays
from ganengine.loop import train
from ganengine.masks import fit_mask_params, generate_masks, render

Handler = Callable[[argparse.Namespace], int]


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register masks, train-cyclegan, generate-pairs and segment on `subparsers`."""
    m = _add(subparsers, "masks", _masks, "write synthetic muscle masks, or fit their ranges")
    m.add_argument("--count", type=int, help="number of masks to write")
    m.add_argument("--out", type=Path, help="folder for mask PNGs")
    m.add_argument("--size", type=int, default=256, help="side in pixels (default 256)")
    m.add_argument("--seed", type=int, default=0, help="mask i has seed SEED + i")
    m.add_argument("--fit", type=Path, metavar="DIR", help="folder with aponeurosis/, fascicle/")

    t = _add(subparsers, "train-cyclegan", _train, "train the mask-to-image CycleGAN")
    t.add_argument("--data", type=Path, required=True, help="folder of real grayscale images")
    t.add_argument("--out", type=Path, required=True, help="folder for checkpoints")
    t.add_argument("--preset", choices=sorted(CYCLEGAN_PRESETS), default="cpu-demo")
    t.add_argument("--masks", type=int, default=TRAINING_MASKS, help="synthetic masks to train on")
    t.add_argument("--resolution", type=int)
    t.add_argument("--steps", type=int, help="total steps (when resuming: the new total)")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--resume", type=Path, metavar="CKPT", help="continue from this checkpoint")
    t.add_argument("--device", help="e.g. cpu, cuda (default: CUDA if available)")

    g = _add(subparsers, "generate-pairs", _generate, "write synthetic image + mask PNG pairs")
    g.add_argument("--checkpoint", type=Path, required=True)
    g.add_argument("--count", type=int, required=True)
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device")

    s = _add(subparsers, "segment", _segment, "segment real images with the reverse generator")
    s.add_argument("--checkpoint", type=Path, required=True)
    s.add_argument("--data", type=Path, required=True, help="folder of real images")
    s.add_argument("--out", type=Path, required=True, help="folder for the mask PNGs")
    s.add_argument("--masks", type=Path, help="manual 0/255 aponeurosis masks: print the IoU")
    s.add_argument("--device")


def main(argv: list[str] | None = None) -> int:
    """Run one of these subcommands on its own (tests, or before the hook into ganengine.cli)."""
    parser = argparse.ArgumentParser(prog="python -m ganengine")
    add_subcommands(parser.add_subparsers(required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    return args.handler(args)


def _add(subparsers: argparse._SubParsersAction, name: str, run: Handler, help: str):
    parser = subparsers.add_parser(name, help=help, description=help)

    def handler(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except (ValueError, CheckpointError) as exc:  # DataError is a ValueError
            parser.error(str(exc))  # exits with status 2

    parser.set_defaults(handler=handler)
    return parser


def _masks(args: argparse.Namespace) -> int:
    if args.fit is not None:
        if args.count is not None or args.out is not None:
            raise ValueError("--fit measures real masks; it takes no --count or --out")
        folders = [args.fit / "aponeurosis", args.fit / "fascicle"]
        for folder in folders:
            if not folder.is_dir():
                raise DataError(f"Mask folder {folder} does not exist")
        params, counts = fit_mask_params(*folders)
        print(json.dumps({"params": params.to_dict(), "counts": counts}, indent=2))
        return 0
    if args.count is None or args.out is None:
        raise ValueError("give --count and --out (or --fit DIR)")
    if args.count < 1 or args.seed < 0 or args.size < 8:
        raise ValueError("--count must be at least 1, --size at least 8, --seed at least 0")
    masks = generate_masks(args.count, args.size, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for i, labels in enumerate(render(masks)):
        Image.fromarray(labels).save(args.out / f"mask{args.seed + i:06d}.png")
    print(f"wrote {args.count} masks to {args.out}")
    return 0


def _train(args: argparse.Namespace) -> int:
    if args.masks < 1:
        raise ValueError("--masks must be at least 1")
    family = MaskToImageFamily()
    base = family.load_checkpoint(args.resume)["config"] if args.resume else None
    base = base or CYCLEGAN_PRESETS[args.preset]
    flags = {
        "resolution": args.resolution,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    config = dataclasses.replace(base, **{k: v for k, v in flags.items() if v is not None})
    config.validate()
    device = device_from_flag(args.device)
    images = load_folder(args.data, config.resolution)
    if images.shape[1] != 1:
        raise DataError(f"Data folder {args.data} holds colour images, and {GREY_ONLY}")
    masks = training_masks(config.resolution, config.seed, args.masks)
    print(f"{len(images)} images from {args.data}, {len(masks)} synthetic masks")

    args.out.mkdir(parents=True, exist_ok=True)
    result = train(
        family,
        config,
        UnpairedData(images, masks),
        args.out,
        on_progress=lambda p: report_progress(p, args.out),
        should_stop=StopOnCtrlC(),
        resume_from=args.resume,
        device=device,
    )
    return print_result(result)


def _generate(args: argparse.Namespace) -> int:
    if args.count < 1 or args.seed < 0:
        raise ValueError("--count must be at least 1, --seed at least 0")
    images, masks = generate_pairs(
        args.checkpoint, args.count, seed=args.seed, device=device_from_flag(args.device)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    for i, (image, labels) in enumerate(zip(images, render(masks), strict=True)):
        Image.fromarray(image).save(args.out / f"seed{args.seed + i:06d}.png")
        Image.fromarray(labels).save(args.out / f"seed{args.seed + i:06d}-mask.png")
    print(f"wrote {args.count} image + mask pairs to {args.out}")
    return 0


def _segment(args: argparse.Namespace) -> int:
    device = device_from_flag(args.device)
    resolution = MaskToImageFamily().load_checkpoint(args.checkpoint)["config"].resolution
    if not args.data.is_dir():
        raise DataError(f"Data folder {args.data} does not exist")
    files = sorted(p for p in args.data.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"Data folder {args.data} has no images ({', '.join(IMAGE_SUFFIXES)})")
    grays = []
    for file in files:
        try:
            with Image.open(file) as img:
                grays.append(np.asarray(img.convert("L")))
        except OSError as exc:
            raise DataError(f"Cannot read image {file}: {exc}") from exc
    labels = segment(args.checkpoint, prepare_arrays(grays, resolution), device=device)
    args.out.mkdir(parents=True, exist_ok=True)
    for file, mask in zip(files, render(labels), strict=True):
        Image.fromarray(mask).save(args.out / f"{file.stem}.png")
    print(f"wrote {len(files)} masks to {args.out}")
    if args.masks is not None:
        print(aponeurosis_iou(args.checkpoint, args.data, args.masks, device=device))
    return 0
