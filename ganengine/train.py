"""The training loop: hinge-loss GAN with DiffAugment, an EMA generator and resumable checkpoints.

Files written to out_dir:
    checkpoint-latest.pt   every config.checkpoint_every steps and at the end (overwritten)
    checkpoint-NNNNNN.pt   at the end of the call (finished or cancelled), named by its step
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganengine.augment import diff_augment
from ganengine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ganengine.config import TrainConfig
from ganengine.device import pick_device
from ganengine.generate import image_latents
from ganengine.images import grid, to_uint8
from ganengine.losses import d_hinge, g_hinge
from ganengine.models import build_models

SAMPLE_COUNT = 16  # images in the Progress.samples grid (4 x 4)
LATEST = "checkpoint-latest.pt"
_ARCHITECTURE = ("model", "resolution", "latent_dim", "base_channels")


@dataclass
class Progress:
    step: int  # steps completed
    total_steps: int
    losses: dict[str, float]  # d, g, d_real, d_fake: means since the previous report
    images_per_second: float  # real images through the training step per second
    eta_seconds: float
    samples: np.ndarray | None = None  # uint8 H x W grid from the EMA generator, fixed latents


@dataclass
class TrainResult:
    checkpoint_path: Path  # the step-named checkpoint written at the end
    step: int
    cancelled: bool
    losses: dict[str, float]


@dataclass
class _State:
    generator: nn.Module
    discriminator: nn.Module
    generator_ema: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    rng: torch.Generator  # all training randomness: batches, latents, augmentation
    step: int


def train(
    config: TrainConfig,
    images: torch.Tensor,
    out_dir: str | Path,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume_from: str | Path | None = None,
    device: str | torch.device | None = None,
) -> TrainResult:
    """Train on `images` ([N, 1, R, R] in [-1, 1]) until config.steps or should_stop() is true.

    On resume, the architecture comes from the checkpoint and must match `config`; the rest of
    `config` (steps, learning rates, intervals) applies from then on, so a run can be extended.
    """
    config.validate()
    _check_images(images, config)
    device = pick_device(device)
    out_dir = Path(out_dir)
    state = _resume(resume_from, config, device) if resume_from else _fresh(config, device)
    images = images.to(device, torch.float32)
    ops = config.augment_ops()
    seeds = range(config.seed, config.seed + SAMPLE_COUNT)
    sample_latents = image_latents(seeds, config.latent_dim).to(device)
    sums: dict[str, torch.Tensor] = {}
    window_steps, window_start, losses = 0, time.perf_counter(), {}
    cancelled = False

    while state.step < config.steps:
        if should_stop is not None and should_stop():
            cancelled = True
            break
        for name, value in _train_step(state, images, ops, config).items():
            sums[name] = sums.get(name, 0) + value
        state.step += 1
        window_steps += 1

        finished = state.step == config.steps
        wants_samples = finished or state.step % config.sample_every == 0
        if wants_samples or state.step % config.progress_every == 0:
            losses = {name: float(total) / window_steps for name, total in sums.items()}
            steps_per_second = window_steps / max(time.perf_counter() - window_start, 1e-9)
            if on_progress is not None:
                samples = _samples(state.generator_ema, sample_latents) if wants_samples else None
                on_progress(
                    Progress(
                        step=state.step,
                        total_steps=config.steps,
                        losses=losses,
                        images_per_second=steps_per_second * config.batch_size,
                        eta_seconds=(config.steps - state.step) / steps_per_second,
                        samples=samples,
                    )
                )
            sums, window_steps, window_start = {}, 0, time.perf_counter()
        if not finished and state.step % config.checkpoint_every == 0:
            save_checkpoint(_to_dict(state, config), out_dir / LATEST)

    if window_steps:  # steps since the last report, when cancelled
        losses = {name: float(total) / window_steps for name, total in sums.items()}
    final = out_dir / f"checkpoint-{state.step:06d}.pt"
    save_checkpoint(_to_dict(state, config), final, out_dir / LATEST)
    return TrainResult(checkpoint_path=final, step=state.step, cancelled=cancelled, losses=losses)


def _train_step(
    s: _State, images: torch.Tensor, ops: list[str], config: TrainConfig
) -> dict[str, torch.Tensor]:
    b = config.batch_size
    real = images[torch.randint(len(images), (b,), device=images.device, generator=s.rng)]

    # Discriminator: real and fake share one forward pass (D has no batch statistics).
    z = torch.randn(b, config.latent_dim, device=real.device, generator=s.rng)  # [B, L]
    with torch.no_grad():
        fake = s.generator(z)  # [B, 1, R, R]
    logits = s.discriminator(diff_augment(torch.cat([real, fake]), ops, s.rng))  # [2B]
    d_real, d_fake = logits[:b], logits[b:]
    loss_d = d_hinge(d_real, d_fake)
    s.opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    s.opt_d.step()

    # Generator: gradients flow through D (frozen here) and the same kind of augmentation.
    s.discriminator.requires_grad_(False)
    z = torch.randn(b, config.latent_dim, device=real.device, generator=s.rng)
    loss_g = g_hinge(s.discriminator(diff_augment(s.generator(z), ops, s.rng)))
    s.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    s.opt_g.step()
    s.discriminator.requires_grad_(True)

    _update_ema(s.generator_ema, s.generator, _ema_decay(config.ema_decay, s.step))
    return {
        "d": loss_d.detach(),
        "g": loss_g.detach(),
        "d_real": d_real.detach().mean(),
        "d_fake": d_fake.detach().mean(),
    }


def _ema_decay(decay: float, step: int) -> float:
    # Ramp up from ~0.1 so the EMA forgets the random init quickly in short runs.
    return min(decay, (1 + step) / (10 + step))


@torch.no_grad()
def _update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - decay)
    # BatchNorm running statistics are copied, not averaged: they describe the live generator.
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


@torch.no_grad()
def _samples(generator_ema: nn.Module, latents: torch.Tensor) -> np.ndarray:
    return grid(to_uint8(generator_ema(latents)))


def _fresh(config: TrainConfig, device: torch.device) -> _State:
    generator, discriminator = build_models(config)
    rng = torch.Generator(device=device).manual_seed(config.seed)
    return _assemble(generator, discriminator, copy.deepcopy(generator), config, device, rng, 0)


def _resume(path: str | Path, config: TrainConfig, device: torch.device) -> _State:
    saved = load_checkpoint(path)
    saved_config: TrainConfig = saved["config"]
    for name in _ARCHITECTURE:
        if getattr(saved_config, name) != getattr(config, name):
            raise CheckpointError(
                f"Checkpoint {path} has {name}={getattr(saved_config, name)!r} "
                f"but the config asks for {getattr(config, name)!r}"
            )
    generator, discriminator = build_models(saved_config)
    generator_ema = copy.deepcopy(generator)
    generator.load_state_dict(saved["generator"])
    discriminator.load_state_dict(saved["discriminator"])
    generator_ema.load_state_dict(saved["generator_ema"])
    rng = torch.Generator(device=device)
    if saved["rng"]["device_type"] == device.type:
        rng.set_state(saved["rng"]["state"])
    else:
        # CPU and CUDA generator states are not interchangeable: continue with a fresh stream.
        rng.manual_seed(config.seed + saved["step"])
    state = _assemble(generator, discriminator, generator_ema, config, device, rng, saved["step"])
    state.opt_g.load_state_dict(saved["opt_g"])
    state.opt_d.load_state_dict(saved["opt_d"])
    # load_state_dict restores the saved hyperparameters; the caller's config wins.
    for optimizer, lr in ((state.opt_g, config.lr_g), (state.opt_d, config.lr_d)):
        for group in optimizer.param_groups:
            group["lr"], group["betas"] = lr, tuple(config.betas)
    return state


def _assemble(
    generator: nn.Module,
    discriminator: nn.Module,
    generator_ema: nn.Module,
    config: TrainConfig,
    device: torch.device,
    rng: torch.Generator,
    step: int,
) -> _State:
    generator.to(device).train()
    discriminator.to(device).train()
    generator_ema.to(device).eval().requires_grad_(False)
    betas = tuple(config.betas)
    return _State(
        generator=generator,
        discriminator=discriminator,
        generator_ema=generator_ema,
        opt_g=torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=betas),
        opt_d=torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=betas),
        rng=rng,
        step=step,
    )


def _to_dict(s: _State, config: TrainConfig) -> dict:
    return {
        "config": json.dumps(config.to_dict()),
        "step": s.step,
        "generator": s.generator.state_dict(),
        "discriminator": s.discriminator.state_dict(),
        "generator_ema": s.generator_ema.state_dict(),
        "opt_g": s.opt_g.state_dict(),
        "opt_d": s.opt_d.state_dict(),
        "rng": {"device_type": s.rng.device.type, "state": s.rng.get_state()},
    }


def _check_images(images: torch.Tensor, config: TrainConfig) -> None:
    r = config.resolution
    if images.ndim != 4 or images.shape[1:] != (1, r, r) or len(images) == 0:
        raise ValueError(f"images must be [N, 1, {r}, {r}] with N >= 1, not {list(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"images must be floating point in [-1, 1], not {images.dtype}")
