"""Command line: `python -m ganengine train | generate | evaluate | masks | train-cyclegan | ...`.

train and generate (the unconditional family) are defined here; the mask-to-image family
(ganengine.cyclegan.cli) and the evaluation (ganengine.metrics.cli) register their own
subcommands. Both hand their family to ganengine.loop.train.

Bad input (missing or empty data folder, unreadable image, invalid setting, bad checkpoint) ends
with argparse's usage message and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
import yaml
from PIL import Image

from ganengine.checkpoint import CheckpointError
from ganengine.cli_support import (
    StopOnCtrlC,
    UsageError,
    device_from_flag,
    print_result,
    report_progress,
)
from ganengine.config import ConfigError
from ganengine.cyclegan.cli import add_subcommands as add_cyclegan_commands
from ganengine.data import DataError, load_folder
from ganengine.loop import train
from ganengine.metrics.cli import add_subcommand as add_evaluate
from ganengine.unconditional.config import CHANNELS, MODELS, PRESETS, UnconditionalConfig
from ganengine.unconditional.family import UnconditionalFamily
from ganengine.unconditional.generation import generate


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (UsageError, DataError, CheckpointError) as exc:
        parser.error(str(exc))  # exits with status 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ganengine", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    t = commands.add_parser("train", help="train a GAN on a folder of grey or colour images")
    t.add_argument("--data", type=Path, required=True, help="folder of PNG/JPEG/TIFF/BMP images")
    t.add_argument("--out", type=Path, required=True, help="folder for checkpoints")
    start = t.add_mutually_exclusive_group()
    start.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="starting settings (default: cpu-demo; with --resume: the checkpoint's)",
    )
    start.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="starting settings from a .json/.yaml file of UnconditionalConfig fields "
        "(optionally `preset: NAME` plus overrides)",
    )
    t.add_argument("--model", choices=MODELS)
    t.add_argument("--resolution", type=int, help="power of two: 32..256 dcgan, 64..512 fastgan")
    t.add_argument("--steps", type=int, help="total steps (when resuming: the new total)")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument(
        "--channels",
        type=int,
        choices=CHANNELS,
        help="1 grey, 3 RGB (default: the config file's or the resumed checkpoint's if they set "
        "it, else the data's: 3 if any image is in colour)",
    )
    t.add_argument("--resume", type=Path, metavar="CKPT", help="continue from this checkpoint")
    t.add_argument("--device", help="e.g. cpu, cuda, cuda:1 (default: CUDA if available)")
    t.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    t.set_defaults(handler=_train)

    g = commands.add_parser("generate", help="write PNG samples from a checkpoint")
    g.add_argument("--checkpoint", type=Path, required=True)
    g.add_argument("--count", type=int, required=True)
    g.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--batch-size", type=int, default=64)
    g.add_argument("--device")
    g.set_defaults(handler=_generate)

    add_evaluate(commands)
    add_cyclegan_commands(commands)
    return parser


def _train(args: argparse.Namespace) -> int:
    family = UnconditionalFamily()
    # When resuming without --preset/--config, start from the checkpoint's own config so only
    # explicit flags change it. Channels: --channels, else those a config file or the resumed
    # checkpoint states, else the data's (presets say 1 for every run, so they state nothing).
    stated_channels = args.channels
    if args.config:
        try:
            base = UnconditionalConfig.from_file(args.config)
        except ConfigError as exc:
            raise UsageError(str(exc)) from exc
        stated_channels = stated_channels or _file_settings(args.config).get("channels")
    elif args.preset or not args.resume:
        base = PRESETS[args.preset or "cpu-demo"]
    else:
        base = family.load_checkpoint(args.resume)["config"]
        stated_channels = stated_channels or base.channels
    overrides = {
        name: value
        for name, value in (
            ("model", args.model),
            ("resolution", args.resolution),
            ("steps", args.steps),
            ("batch_size", args.batch_size),
            ("seed", args.seed),
        )
        if value is not None
    }
    try:
        config = dataclasses.replace(base, **overrides).validate()
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    images = load_folder(args.data, config.resolution, stated_channels)
    config = dataclasses.replace(config, channels=images.shape[1])
    device = device_from_flag(args.device)
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    print(
        f"{len(images)} {_CHANNEL_NAMES[config.channels]} images from {args.data} at "
        f"{config.resolution}x{config.resolution}; "
        f"{config.model}, batch {config.batch_size}, {config.steps} steps on {device}"
    )

    args.out.mkdir(parents=True, exist_ok=True)  # sample grids may arrive before any checkpoint
    result = train(
        family,
        config,
        images,
        args.out,
        on_progress=lambda progress: report_progress(progress, args.out),
        should_stop=StopOnCtrlC(),
        resume_from=args.resume,
        device=device,
    )
    return print_result(result)


_CHANNEL_NAMES = {1: "grey", 3: "RGB"}


def _file_settings(path: Path) -> dict:
    """The settings a config file names (from_file has read and validated it already)."""
    try:
        settings = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"Cannot read config file {path}: {exc}") from exc
    return settings if isinstance(settings, dict) else {}


def _generate(args: argparse.Namespace) -> int:
    if args.count < 1 or args.batch_size < 1 or args.seed < 0:
        raise UsageError("--count and --batch-size must be at least 1, --seed at least 0")
    images = generate(
        args.checkpoint,
        args.count,
        seed=args.seed,
        batch_size=args.batch_size,
        device=device_from_flag(args.device),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    for i, pixels in enumerate(images):  # H x W grey or H x W x 3 RGB
        Image.fromarray(pixels).save(args.out / f"seed{args.seed + i:06d}.png")  # one seed each
    print(f"wrote {len(images)} images to {args.out}")
    return 0
