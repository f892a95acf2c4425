"""Sampling from a trained unconditional checkpoint.

Every image has its own integer seed: generate(ckpt, n, seed=s) returns the images of seeds
s, s + 1, ..., s + n - 1, each independent of count, batch size and device. So image i of a call
with seed s is image 0 of a call with seed s + i, and one stored seed reproduces one image.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganengine.checkpoint import (
    CheckpointError,
    load_file,
    read_checkpoint,
    save_checkpoint,
)
from ganengine.device import pick_device
from ganengine.images import to_uint8
from ganengine.unconditional.checkpoints import GENERATOR_VERSION, UnconditionalCheckpoints
from ganengine.unconditional.config import UnconditionalConfig
from ganengine.unconditional.models import build_generator


def generate(
    checkpoint: str | Path,
    count: int,
    *,
    seed: int = 0,
    batch_size: int = 64,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """uint8 images of seeds seed .. seed + count - 1 from the EMA generator.

    [count, R, R] for a grey generator, [count, R, R, 3] for an RGB one (config.channels).
    """
    if count < 0 or batch_size < 1 or seed < 0:
        raise ValueError("count and seed must be >= 0 and batch_size >= 1")
    generator, config = load_generator(checkpoint, device)
    device = next(generator.parameters()).device
    side = config.resolution
    colour = (3,) if config.channels == 3 else ()
    out = np.empty((count, side, side, *colour), dtype=np.uint8)
    with torch.inference_mode():
        for start in range(0, count, batch_size):
            n = min(batch_size, count - start)
            seeds = range(seed + start, seed + start + n)
            z, noise = image_inputs(seeds, config.latent_dim, generator.noise_shapes(), device)
            out[start : start + n] = to_uint8(generator(z, noise))
    return out


def load_generator(
    path: str | Path, device: str | torch.device | None = None
) -> tuple[nn.Module, UnconditionalConfig]:
    """The EMA generator in eval mode on `device` (default: CUDA if available), and its config.

    `path` is a training checkpoint or an exported generator (export_generator), whose fp16
    weights are widened to fp32.
    """
    kind = UnconditionalCheckpoints()
    loaded = load_file(path)  # read once, whichever of the two formats it is
    if loaded.get("format") == kind.generator_format:
        state = read_checkpoint(
            path,
            format=kind.generator_format,
            version=GENERATOR_VERSION,
            required=("config", "step", "generator_ema"),
            config_class=UnconditionalConfig,
            loaded=loaded,
        )
    else:
        state = kind.load_checkpoint(path, loaded)
    config = state["config"]
    generator = build_generator(config)
    try:
        generator.load_state_dict(state["generator_ema"])  # copies fp16 into the fp32 weights
    except RuntimeError as exc:
        raise CheckpointError(f"Checkpoint {path} does not match its config: {exc}") from exc
    return generator.to(pick_device(device)).eval(), config


def export_generator(checkpoint: str | Path, path: str | Path) -> Path:
    """Write the EMA generator of a training checkpoint alone, in fp16, to `path`.

    What a demo or a shared model ships: about a quarter of the training checkpoint (no
    discriminator, no optimiser state, half the bytes per weight). It generates like the
    checkpoint, up to fp16 rounding of the weights, and cannot resume training.
    """
    kind = UnconditionalCheckpoints()
    state = kind.load_checkpoint(checkpoint)
    weights = {
        name: tensor.half() if tensor.is_floating_point() else tensor
        for name, tensor in state["generator_ema"].items()
    }
    out = Path(path)
    save_checkpoint(
        {
            "config": json.dumps(state["config"].to_dict()),
            "step": state["step"],
            "generator_ema": weights,
        },
        out,
        format=kind.generator_format,
        version=GENERATOR_VERSION,
    )
    return out


def image_inputs(
    seeds: range,
    latent_dim: int,
    noise_shapes: list[tuple[int, ...]],
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Latents and noise maps of `seeds`: each image's from its own stream, after its latent."""
    latents, noise = [], [[] for _ in noise_shapes]
    for image_seed in seeds:
        stream = _stream(image_seed)
        latents.append(torch.randn(latent_dim, generator=stream))
        for maps, shape in zip(noise, noise_shapes, strict=True):
            maps.append(torch.randn(*shape, generator=stream))
    z = torch.stack(latents) if latents else torch.empty(0, latent_dim)
    return z.to(device), [torch.stack(maps).to(device) for maps in noise]


def _stream(image_seed: int) -> torch.Generator:
    # The seed is hashed first so neighbouring seeds get unrelated streams.
    key = int(np.random.SeedSequence(image_seed).generate_state(1, dtype=np.uint64)[0])
    return torch.Generator().manual_seed(key)


def image_latents(seeds: range, latent_dim: int) -> torch.Tensor:
    """[len(seeds), latent_dim] standard normal latents, one private RNG stream per seed.

    Drawn on the CPU so a seed names the same image on every device and batch size. The seed is
    hashed first so neighbouring seeds get unrelated streams.
    """
    return image_inputs(seeds, latent_dim, [])[0]
