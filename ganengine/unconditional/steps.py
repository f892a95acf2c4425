"""The unconditional family's training: hinge-loss GAN with DiffAugment and an EMA generator.

ganengine.loop runs it (counting steps, checkpoints, resume, progress); this module holds the
state, one step, the sample grid and what a checkpoint keeps (ganengine.unconditional.checkpoints).

Speed settings of the config: bf16 autocast on CUDA and on CPUs with native bf16 arithmetic
(AVX512-BF16 or AMX; elsewhere it is ignored), channels_last on both, torch.compile and fused
Adam on CUDA only (TF32 is always on). benchmarks/bench_ganengine.py measures each on the
current machine against plain fp32 eager.
The training images live on the device for the whole run: no DataLoader, no worker processes.
"""

from __future__ import annotations

import contextlib
import copy
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ganengine.augment import diff_augment
from ganengine.images import grid, to_uint8
from ganengine.losses import d_hinge, g_hinge
from ganengine.trainable import TrainState
from ganengine.unconditional.config import UnconditionalConfig
from ganengine.unconditional.generation import image_inputs
from ganengine.unconditional.models import SELF_SUPERVISED, build_models

SAMPLE_COUNT = 16  # images in the Progress.samples grid (4 x 4)


@dataclass
class UnconditionalState(TrainState):
    generator: nn.Module
    discriminator: nn.Module
    generator_ema: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    # What the step calls: the modules themselves, or their torch.compile wrappers (same weights).
    fast_generator: Callable[..., torch.Tensor]
    fast_discriminator: Callable[..., torch.Tensor]
    autocast: Callable[[], contextlib.AbstractContextManager]


def prepare(
    images: torch.Tensor, config: UnconditionalConfig, device: torch.device
) -> torch.Tensor:
    """The training images checked and on the device, in the memory format the networks use."""
    c, r = config.channels, config.resolution
    if images.ndim != 4 or images.shape[1:] != (c, r, r) or len(images) == 0:
        raise ValueError(
            f"images must be [N, {c}, {r}, {r}] with N >= 1 (channels {c} as the config says), "
            f"not {list(images.shape)}"
        )
    if not images.is_floating_point():
        raise ValueError(f"images must be floating point in [-1, 1], not {images.dtype}")
    images = images.to(device, torch.float32)
    return images.contiguous(memory_format=_memory_format(config, device))


def new_state(
    config: UnconditionalConfig,
    device: torch.device,
    rng: torch.Generator,
    saved: dict[str, Any] | None = None,
) -> UnconditionalState:
    """Networks and optimisers on `device`: fresh from config.seed, or from a loaded checkpoint."""
    generator, discriminator = build_models(config)
    generator_ema = copy.deepcopy(generator)
    if saved is None:
        return _assemble(generator, discriminator, generator_ema, config, device, rng, 0)
    generator.load_state_dict(saved["generator"])
    discriminator.load_state_dict(saved["discriminator"])
    generator_ema.load_state_dict(saved["generator_ema"])
    state = _assemble(generator, discriminator, generator_ema, config, device, rng, saved["step"])
    fused = state.opt_g.defaults["fused"]
    state.opt_g.load_state_dict(saved["opt_g"])
    state.opt_d.load_state_dict(saved["opt_d"])
    # load_state_dict restores the saved hyperparameters; the caller's config and device win.
    for optimizer, lr in ((state.opt_g, config.lr_g), (state.opt_d, config.lr_d)):
        for group in optimizer.param_groups:
            group["lr"], group["betas"], group["fused"] = lr, tuple(config.betas), fused
    return state


def train_step(
    s: UnconditionalState, images: torch.Tensor, config: UnconditionalConfig
) -> dict[str, torch.Tensor]:
    """One discriminator and one generator update; returns the detached losses of the step."""
    b, ops = config.batch_size, config.augment_ops()
    real = images[torch.randint(len(images), (b,), device=images.device, generator=s.rng)]
    z = torch.randn(b, config.latent_dim, device=real.device, generator=s.rng)  # [B, L]
    with s.autocast():
        noise = [
            torch.randn(b, *shape, device=real.device, generator=s.rng)
            for shape in s.generator.noise_shapes()
        ]
        fake = s.fast_generator(z, noise)  # [B, C, R, R]; one forward serves both updates

    # Discriminator: real and fake share one forward pass (D has no batch statistics).
    x = diff_augment(torch.cat([real, fake.detach()]), ops, s.rng)  # [2B, C, R, R]
    r1 = config.r1_gamma > 0 and s.step % config.r1_every == 0
    # torch.compile cannot differentiate twice, so the (rare) R1 steps run D eagerly.
    d = s.discriminator if r1 else s.fast_discriminator
    x.requires_grad_(r1)
    losses = {}
    with s.autocast():
        if config.model in SELF_SUPERVISED:
            logits, rec = d(x, real_count=b, quadrant=s.step % 4)
            losses["rec"] = rec.float()
        else:
            logits = d(x)
    logits = logits.float()  # [2B]
    d_real, d_fake = logits[:b], logits[b:]
    loss_d = d_hinge(d_real, d_fake) + config.rec_weight * losses.get("rec", 0.0)
    if r1:
        # Lazy R1 (StyleGAN2): gamma / 2 * E|grad_x D(real)|^2, scaled up by the interval.
        (grad,) = torch.autograd.grad(d_real.sum(), x, create_graph=True)
        losses["r1"] = grad[:b].float().square().sum(dim=(1, 2, 3)).mean()
        loss_d = loss_d + config.r1_gamma / 2 * config.r1_every * losses["r1"]
    s.opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    s.opt_d.step()

    # Generator: gradients flow through D (frozen here) and a fresh draw of the augmentation.
    s.discriminator.requires_grad_(False)
    with s.autocast():
        # Augment in fp32 (as in the D update): bf16 random numbers would coarsen the shifts.
        loss_g = g_hinge(s.fast_discriminator(diff_augment(fake.float(), ops, s.rng)).float())
    s.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    s.opt_g.step()
    s.discriminator.requires_grad_(True)

    _update_ema(s.generator_ema, s.generator, _ema_decay(config.ema_decay, s.step))
    losses = {
        "d": loss_d.detach(),
        "g": loss_g.detach(),
        "d_real": d_real.detach().mean(),
        "d_fake": d_fake.detach().mean(),
    } | {name: value.detach() for name, value in losses.items()}
    return losses


def _ema_decay(decay: float, step: int) -> float:
    # Ramp up from ~0.1 so the EMA forgets the random init quickly in short runs.
    return min(decay, (1 + step) / (10 + step))


@torch.no_grad()
def _update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - decay)
    # BatchNorm running statistics are copied, not averaged: they describe the live generator.
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


@torch.no_grad()
def samples(s: UnconditionalState, config: UnconditionalConfig) -> np.ndarray:
    """The EMA generator's images of seeds config.seed .. + 15: the same "faces" each time."""
    seeds = range(config.seed, config.seed + SAMPLE_COUNT)
    device = next(s.generator_ema.parameters()).device
    z, noise = image_inputs(seeds, config.latent_dim, s.generator_ema.noise_shapes(), device)
    return grid(to_uint8(s.generator_ema(z, noise)))


def state_dict(s: UnconditionalState) -> dict[str, Any]:
    return {
        "generator": s.generator.state_dict(),
        "discriminator": s.discriminator.state_dict(),
        "generator_ema": s.generator_ema.state_dict(),
        "opt_g": s.opt_g.state_dict(),
        "opt_d": s.opt_d.state_dict(),
    }


def _assemble(
    generator: nn.Module,
    discriminator: nn.Module,
    generator_ema: nn.Module,
    config: UnconditionalConfig,
    device: torch.device,
    rng: torch.Generator,
    step: int,
) -> UnconditionalState:
    cuda = device.type == "cuda"
    memory_format = _memory_format(config, device)
    generator.to(device, memory_format=memory_format).train()
    discriminator.to(device, memory_format=memory_format).train()
    generator_ema.to(device, memory_format=memory_format).eval().requires_grad_(False)
    betas = tuple(config.betas)
    # Fused Adam: one kernel for all parameters instead of several per tensor.
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=betas, fused=cuda)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=betas, fused=cuda)
    fast_generator, fast_discriminator = generator, discriminator
    if cuda and config.compile:
        _prepare_compile()
        # Static shapes: the quadrant argument takes 4 values, each gets its own graph.
        fast_generator = torch.compile(generator, dynamic=False)
        fast_discriminator = torch.compile(discriminator, dynamic=False)
    bf16 = config.precision == "bf16" and bf16_supported(device)

    def autocast() -> contextlib.AbstractContextManager:
        return torch.autocast(device.type, torch.bfloat16) if bf16 else contextlib.nullcontext()

    return UnconditionalState(
        generator=generator,
        discriminator=discriminator,
        generator_ema=generator_ema,
        opt_g=opt_g,
        opt_d=opt_d,
        rng=rng,
        step=step,
        fast_generator=fast_generator,
        fast_discriminator=fast_discriminator,
        autocast=autocast,
    )


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast runs natively on `device` (emulated bf16 on a CPU is slower)."""
    if device.type == "cuda":
        return True
    return device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def _memory_format(config: UnconditionalConfig, device: torch.device) -> torch.memory_format:
    return torch.channels_last if config.channels_last else torch.contiguous_format


def _prepare_compile() -> None:
    # Celery's prefork workers are daemonic and may not start the compile worker pool.
    if multiprocessing.current_process().daemon:
        import torch._inductor.config

        torch._inductor.config.compile_threads = 1
