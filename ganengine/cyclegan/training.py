"""The CycleGAN training loop: LSGAN, cycle loss, image pools, histogram discriminators.

Same contract as ganengine.training: Progress reports, should_stop(), full-state atomic checkpoints
(checkpoint-latest.pt every config.checkpoint_every steps, checkpoint-NNNNNN.pt + latest at the
end) and bit-exact resume on the same device type.

Checkpoint dict: format "ganengine-cyclegan", version 1, config (JSON), step, nets {g, f,
d_image, d_mask, h_image, h_mask} (state_dicts), opt_g, opt_d, pools {mask, image} (tensors of
earlier fakes), rng {"device_type", "state"}.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganengine.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from ganengine.cyclegan.config import ARCHITECTURE, CycleGANConfig
from ganengine.cyclegan.data import masks_to_tensor, tensor_to_labels
from ganengine.cyclegan.networks import build_networks
from ganengine.device import pick_device
from ganengine.images import grid, to_uint8
from ganengine.masks import generate_masks, render
from ganengine.progress import Progress, ProgressMeter, TrainResult

FORMAT = "ganengine-cyclegan"
VERSION = 1
_KIND = {"format": FORMAT, "version": VERSION}
LATEST = "checkpoint-latest.pt"
SAMPLE_PAIRS = 4  # Progress.samples rows: masks, G(masks), real images, F(real images)
_GENERATORS = ("g", "f")
_CRITICS = ("d_image", "d_mask", "h_image", "h_mask")
_REQUIRED = ["config", "step", "nets", "opt_g", "opt_d", "pools", "rng"]


@dataclass
class _State:
    nets: dict[str, nn.Module]
    opt_g: torch.optim.Optimizer  # G and F together, as in CycleGAN
    opt_d: torch.optim.Optimizer  # all four critics
    pools: dict[str, torch.Tensor]  # "mask", "image": [<= pool_size, 1, R, R] earlier fakes
    rng: torch.Generator  # all training randomness: batches and pool decisions
    step: int


def train_cyclegan(
    config: CycleGANConfig,
    images: torch.Tensor,
    masks: torch.Tensor,
    out_dir: str | Path,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_checkpoint: Callable[[Path, int], None] | None = None,
    resume_from: str | Path | None = None,
    device: str | torch.device | None = None,
) -> TrainResult:
    """Train G: mask -> image and F: image -> mask on unpaired `images` and `masks`.

    images: [N, 1, R, R] in [-1, 1] (ganengine.data.load_folder); masks: [M, 1, R, R] mask-domain
    tensors (cyclegan.data.masks_to_tensor of ganengine.masks.generate_masks). Progress.losses
    holds g (adversarial), cycle, hist (histogram, G side), d_image, d_mask, d_hist, and
    identity when config.identity_weight > 0.
    """
    config.validate()
    _check("images", images, config)
    _check("masks", masks, config)
    device = pick_device(device)
    out_dir = Path(out_dir)
    state = _resume(resume_from, config, device) if resume_from else _fresh(config, device)
    images = images.to(device, torch.float32)
    masks = masks.to(device, torch.float32)
    sample_masks = masks_to_tensor(generate_masks(SAMPLE_PAIRS, config.resolution, config.seed))
    sample_images = images[torch.linspace(0, len(images) - 1, SAMPLE_PAIRS).long()]
    sample_masks = sample_masks.to(device)
    meter, losses = ProgressMeter(config.steps, config.batch_size), {}
    cancelled = False

    while state.step < config.steps:
        if should_stop is not None and should_stop():
            cancelled = True
            break
        meter.add(_train_step(state, images, masks, config))
        state.step += 1

        finished = state.step == config.steps
        wants_samples = finished or state.step % config.sample_every == 0
        if wants_samples or state.step % config.progress_every == 0:
            show = wants_samples and on_progress is not None
            progress = meter.report(
                state.step, _samples(state, sample_masks, sample_images) if show else None
            )
            losses = progress.losses
            if on_progress is not None:
                on_progress(progress)
        if not finished and state.step % config.checkpoint_every == 0:
            save_checkpoint(_to_dict(state, config), out_dir / LATEST, **_KIND)
            if on_checkpoint is not None:
                on_checkpoint(out_dir / LATEST, state.step)

    if meter.pending:  # steps since the last report, when cancelled
        losses = meter.means()
    final = out_dir / f"checkpoint-{state.step:06d}.pt"
    save_checkpoint(_to_dict(state, config), final, out_dir / LATEST, **_KIND)
    if on_checkpoint is not None:
        on_checkpoint(final, state.step)
    return TrainResult(checkpoint_path=final, step=state.step, cancelled=cancelled, losses=losses)


def _train_step(
    s: _State, images: torch.Tensor, masks: torch.Tensor, config: CycleGANConfig
) -> dict[str, torch.Tensor]:
    b, n = config.batch_size, s.nets
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


def _query_pool(s: _State, name: str, fakes: torch.Tensor, size: int) -> torch.Tensor:
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
def _samples(s: _State, masks: torch.Tensor, images: torch.Tensor) -> np.ndarray:
    g, f = s.nets["g"].eval(), s.nets["f"].eval()
    rows = [
        render(tensor_to_labels(masks)),
        to_uint8(g(masks)),
        to_uint8(images),
        render(tensor_to_labels(f(images))),
    ]
    g.train(), f.train()
    return grid(np.concatenate(rows))


def _fresh(config: CycleGANConfig, device: torch.device) -> _State:
    rng = torch.Generator(device=device).manual_seed(config.seed)
    with torch.random.fork_rng(devices=[]):  # seeded initialisation, global RNG untouched
        torch.manual_seed(config.seed)
        nets = build_networks(config)
    return _assemble(nets, config, device, rng, 0, _empty_pools(config))


def _empty_pools(config: CycleGANConfig) -> dict[str, torch.Tensor]:
    r = config.resolution
    return {name: torch.empty(0, 1, r, r) for name in ("mask", "image")}


def load_cyclegan_checkpoint(path: str | Path) -> dict[str, Any]:
    """The saved dict with tensors on the CPU and `config` parsed into a CycleGANConfig."""
    return read_checkpoint(
        path, format=FORMAT, version=VERSION, required=_REQUIRED, config_class=CycleGANConfig
    )


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


def _resume(path: str | Path, config: CycleGANConfig, device: torch.device) -> _State:
    saved = load_cyclegan_checkpoint(path)
    saved_config: CycleGANConfig = saved["config"]
    for name in ARCHITECTURE:
        if getattr(saved_config, name) != getattr(config, name):
            raise CheckpointError(
                f"Checkpoint {path} has {name}={getattr(saved_config, name)!r} "
                f"but the config asks for {getattr(config, name)!r}"
            )
    rng = torch.Generator(device=device)
    if saved["rng"]["device_type"] == device.type:
        rng.set_state(saved["rng"]["state"])
    else:
        # CPU and CUDA generator states are not interchangeable: continue with a fresh stream.
        rng.manual_seed(config.seed + saved["step"])
    pools = {name: saved["pools"][name][: config.pool_size] for name in ("mask", "image")}
    state = _assemble(load_networks(saved, path), config, device, rng, saved["step"], pools)
    state.opt_g.load_state_dict(saved["opt_g"])
    state.opt_d.load_state_dict(saved["opt_d"])
    for optimizer in (state.opt_g, state.opt_d):  # the caller's config wins over the saved one
        for group in optimizer.param_groups:
            group["lr"], group["betas"] = config.lr_at(state.step), tuple(config.betas)
    return state


def _assemble(
    nets: dict[str, nn.Module],
    config: CycleGANConfig,
    device: torch.device,
    rng: torch.Generator,
    step: int,
    pools: dict[str, torch.Tensor],
) -> _State:
    for net in nets.values():
        net.to(device).train()
    betas = tuple(config.betas)

    def adam(names: tuple[str, ...]) -> torch.optim.Optimizer:
        params = [p for name in names for p in nets[name].parameters()]
        return torch.optim.Adam(params, lr=config.lr_at(step), betas=betas)

    return _State(
        nets=nets,
        opt_g=adam(_GENERATORS),
        opt_d=adam(_CRITICS),
        pools={name: pool.to(device) for name, pool in pools.items()},
        rng=rng,
        step=step,
    )


def _to_dict(s: _State, config: CycleGANConfig) -> dict[str, Any]:
    return {
        "config": json.dumps(config.to_dict()),
        "step": s.step,
        "nets": {name: net.state_dict() for name, net in s.nets.items()},
        "opt_g": s.opt_g.state_dict(),
        "opt_d": s.opt_d.state_dict(),
        "pools": dict(s.pools),
        "rng": {"device_type": s.rng.device.type, "state": s.rng.get_state()},
    }


def _check(name: str, x: torch.Tensor, config: CycleGANConfig) -> None:
    r = config.resolution
    if x.ndim != 4 or x.shape[1:] != (1, r, r) or len(x) == 0:
        raise ValueError(f"{name} must be [N, 1, {r}, {r}] with N >= 1, not {list(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be floating point in [-1, 1], not {x.dtype}")
