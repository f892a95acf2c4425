"""The mask-to-image family's training: CycleGAN with LSGAN, cycle loss, image pools, histograms.

ganengine.loop runs it (counting steps, checkpoints, resume, progress); this module holds the
state, one step, the sample grid and what a checkpoint keeps (ganengine.cyclegan.checkpoints).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganengine.checkpoint import CheckpointError
from ganengine.cyclegan.config import CycleGANConfig
from ganengine.cyclegan.data import GREY_ONLY, UnpairedData, masks_to_tensor, tensor_to_labels
from ganengine.cyclegan.networks import build_networks
from ganengine.images import grid, to_uint8
from ganengine.masks import generate_masks, render
from ganengine.trainable import TrainState

SAMPLE_PAIRS = 4  # Progress.samples rows: masks, G(masks), real images, F(real images)
_GENERATORS = ("g", "f")
_CRITICS = ("d_image", "d_mask", "h_image", "h_mask")


@dataclass
class CycleGANState(TrainState):
    nets: dict[str, nn.Module]
    opt_g: torch.optim.Optimizer  # G and F together, as in CycleGAN
    opt_d: torch.optim.Optimizer  # all four critics
    pools: dict[str, torch.Tensor]  # "mask", "image": [<= pool_size, 1, R, R] earlier fakes


def prepare(data: UnpairedData, config: CycleGANConfig, device: torch.device) -> UnpairedData:
    """Images and masks checked and on the device.

    images: [N, 1, R, R] in [-1, 1] (ganengine.data.load_folder); masks: [M, 1, R, R] mask-domain
    tensors (cyclegan.data.training_masks).
    """
    _check("images", data.images, config)
    _check("masks", data.masks, config)
    return UnpairedData(
        images=data.images.to(device, torch.float32), masks=data.masks.to(device, torch.float32)
    )


def new_state(
    config: CycleGANConfig,
    device: torch.device,
    rng: torch.Generator,
    saved: dict[str, Any] | None = None,
) -> CycleGANState:
    """Networks, optimisers and pools on `device`: fresh from config.seed, or from a checkpoint."""
    with torch.random.fork_rng(devices=[]):  # seeded initialisation, global RNG untouched
        torch.manual_seed(config.seed)
        nets = build_networks(config)
    if saved is None:
        return _assemble(nets, config, device, rng, 0, _empty_pools(config))
    for name, net in nets.items():
        net.load_state_dict(saved["nets"][name])
    pools = {name: saved["pools"][name][: config.pool_size] for name in ("mask", "image")}
    state = _assemble(nets, config, device, rng, saved["step"], pools)
    state.opt_g.load_state_dict(saved["opt_g"])
    state.opt_d.load_state_dict(saved["opt_d"])
    for optimizer in (state.opt_g, state.opt_d):  # the caller's config wins over the saved one
        for group in optimizer.param_groups:
            group["lr"], group["betas"] = config.lr_at(state.step), tuple(config.betas)
    return state


def train_step(
    s: CycleGANState, data: UnpairedData, config: CycleGANConfig
) -> dict[str, torch.Tensor]:
    """One update of G and F, then of the four critics; the detached losses of the step.

    Losses: g (adversarial), cycle, hist (histogram, G side), d_image, d_mask, d_hist, and
    identity when config.identity_weight > 0. s.step counts the steps before this one.
    """
    b, n, images, masks = config.batch_size, s.nets, data.images, data.masks
    for optimizer in (s.opt_g, s.opt_d):
        for group in optimizer.param_groups:
            group["lr"] = config.lr_at(s.step)
    real_mask = masks[torch.randint(len(masks), (b,), device=masks.device, generator=s.rng)]
    real_image = images[torch.randint(len(images), (b,), device=images.device, generator=s.rng)]

    # Generators: fool the critics (frozen here) and reconstruct both inputs.
    critics = [n[name] for name in _CRITICS]
    for critic in critics:
        critic.requires_grad_(False)
    fake_image = n["g"](real_mask)  # [B, 1, R, R]
    fake_mask = n["f"](real_image)
    loss_gan = _lsgan(n["d_image"](fake_image), 1.0) + _lsgan(n["d_mask"](fake_mask), 1.0)
    loss_hist = _lsgan(n["h_image"](fake_image), 1.0) + _lsgan(n["h_mask"](fake_mask), 1.0)
    loss_cycle = F.l1_loss(n["f"](fake_image), real_mask) + F.l1_loss(n["g"](fake_mask), real_image)
    loss_g = loss_gan + config.cycle_weight * loss_cycle + config.hist_weight * loss_hist
    reported = {}
    if config.identity_weight > 0:
        loss_identity = F.l1_loss(n["g"](real_image), real_image) + F.l1_loss(
            n["f"](real_mask), real_mask
        )
        loss_g = loss_g + config.cycle_weight * config.identity_weight * loss_identity
        reported["identity"] = loss_identity.detach()
    s.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    s.opt_g.step()
    for critic in critics:
        critic.requires_grad_(True)

    # Critics: PatchGANs see fakes from the pools, histogram critics this step's fakes.
    fake_image, fake_mask = fake_image.detach(), fake_mask.detach()
    pooled_image = _query_pool(s, "image", fake_image, config.pool_size)
    pooled_mask = _query_pool(s, "mask", fake_mask, config.pool_size)
    loss_d_image = _critic_loss(n["d_image"], real_image, pooled_image)
    loss_d_mask = _critic_loss(n["d_mask"], real_mask, pooled_mask)
    loss_d_hist = _critic_loss(n["h_image"], real_image, fake_image) + _critic_loss(
        n["h_mask"], real_mask, fake_mask
    )
    s.opt_d.zero_grad(set_to_none=True)
    (loss_d_image + loss_d_mask + config.hist_weight * loss_d_hist).backward()
    s.opt_d.step()
    return {
        "g": loss_gan.detach(),
        "cycle": loss_cycle.detach(),
        "hist": loss_hist.detach(),
        "d_image": loss_d_image.detach(),
        "d_mask": loss_d_mask.detach(),
        "d_hist": loss_d_hist.detach(),
        **reported,
    }


def _lsgan(prediction: torch.Tensor, target: float) -> torch.Tensor:
    return F.mse_loss(prediction, torch.full_like(prediction, target))


def _critic_loss(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (_lsgan(critic(real), 1.0) + _lsgan(critic(fake), 0.0))


def _query_pool(s: CycleGANState, name: str, fakes: torch.Tensor, size: int) -> torch.Tensor:
    """Shrivastava et al. 2017: until full, store and return; then swap with p = 0.5."""
    if size == 0:
        return fakes
    pool = s.pools[name]
    out = []
    for fake in fakes:
        fake = fake.unsqueeze(0)
        if len(pool) < size:
            pool = torch.cat([pool, fake])
            out.append(fake)
            continue
        swap, index = torch.rand(2, device=fake.device, generator=s.rng)
        if swap < 0.5:
            i = int(index * len(pool))
            out.append(pool[i : i + 1].clone())
            pool[i] = fake[0]
        else:
            out.append(fake)
    s.pools[name] = pool
    return torch.cat(out)


@torch.no_grad()
def samples(s: CycleGANState, data: UnpairedData, config: CycleGANConfig) -> np.ndarray:
    """Rows of fixed inputs: synthetic masks, G's images of them, real images, F's masks."""
    masks = masks_to_tensor(generate_masks(SAMPLE_PAIRS, config.resolution, config.seed))
    masks = masks.to(data.images.device)
    images = data.images[torch.linspace(0, len(data.images) - 1, SAMPLE_PAIRS).long()]
    g, f = s.nets["g"].eval(), s.nets["f"].eval()
    rows = [
        render(tensor_to_labels(masks)),
        to_uint8(g(masks)),
        to_uint8(images),
        render(tensor_to_labels(f(images))),
    ]
    g.train(), f.train()
    return grid(np.concatenate(rows))


def state_dict(s: CycleGANState) -> dict[str, Any]:
    return {
        "nets": {name: net.state_dict() for name, net in s.nets.items()},
        "opt_g": s.opt_g.state_dict(),
        "opt_d": s.opt_d.state_dict(),
        "pools": dict(s.pools),
    }


def _empty_pools(config: CycleGANConfig) -> dict[str, torch.Tensor]:
    r = config.resolution
    return {name: torch.empty(0, 1, r, r) for name in ("mask", "image")}


def load_networks(
    saved: dict[str, Any], path: str | Path, names: tuple[str, ...] | None = None
) -> dict[str, nn.Module]:
    """Networks built from a loaded checkpoint's config, with its weights."""
    nets = build_networks(saved["config"])
    try:
        for name in names or tuple(nets):
            nets[name].load_state_dict(saved["nets"][name])
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"Checkpoint {path} does not match its config: {exc}") from exc
    return {name: nets[name] for name in names or tuple(nets)}


def _assemble(
    nets: dict[str, nn.Module],
    config: CycleGANConfig,
    device: torch.device,
    rng: torch.Generator,
    step: int,
    pools: dict[str, torch.Tensor],
) -> CycleGANState:
    for net in nets.values():
        net.to(device).train()
    betas = tuple(config.betas)

    def adam(names: tuple[str, ...]) -> torch.optim.Optimizer:
        params = [p for name in names for p in nets[name].parameters()]
        return torch.optim.Adam(params, lr=config.lr_at(step), betas=betas)

    return CycleGANState(
        nets=nets,
        opt_g=adam(_GENERATORS),
        opt_d=adam(_CRITICS),
        pools={name: pool.to(device) for name, pool in pools.items()},
        rng=rng,
        step=step,
    )


def _check(name: str, x: torch.Tensor, config: CycleGANConfig) -> None:
    r = config.resolution
    if name == "images" and x.ndim == 4 and x.shape[1] == 3:
        raise ValueError(f"images have 3 channels (RGB), and {GREY_ONLY}")
    if x.ndim != 4 or x.shape[1:] != (1, r, r) or len(x) == 0:
        raise ValueError(f"{name} must be [N, 1, {r}, {r}] with N >= 1, not {list(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be floating point in [-1, 1], not {x.dtype}")
