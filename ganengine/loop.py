"""The training loop of every model family.

    result = train(family, config, data, out_dir, on_progress=..., should_stop=...,
                   on_checkpoint=..., resume_from=..., device=...)

The caller hands the loop the family it runs, as StyleGAN2-ADA's training loop receives its
networks and losses: the loop imports neither the registry nor any family. The family (a
ganengine.trainable.Trainable, which every ganengine.family.Family is) supplies the training
state, one step, sample grids and what a checkpoint holds. This loop owns what every family
shares:

- The step counter: advance() moves it, after each of the family's steps, and nothing else does.
- The training RNG: one torch.Generator on the device, seeded with config.seed, saved in each
  checkpoint and restored on resume, so resuming on the same device type is bit-exact. CPU and
  CUDA generator states are not interchangeable: on the other device type the resumed run
  continues with a fresh stream seeded config.seed + step.
- Resume: the checkpoint must be the family's and its architecture fields must equal the
  config's (CheckpointError names the first that differs); the rest of the config (steps,
  learning rates, intervals) applies from the resumed step on, so a run can be extended.
- Files in out_dir: LATEST every config.checkpoint_every steps; when the call returns (finished
  or cancelled) checkpoint-NNNNNN.pt, named by its step, and LATEST again. Each is written
  atomically, and on_checkpoint(path, step) runs once it is complete on disk, so a caller can
  copy it to durable storage and record it.
- Progress: a Progress every config.progress_every steps, with a sample grid every
  config.sample_every steps and at the end (only when someone listens: on_progress).
- Cancellation: should_stop() is asked before every step; a stopped run still saves its
  checkpoint, which a later call resumes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ganengine.checkpoint import CheckpointError, save_checkpoint
from ganengine.config import ConfigBase
from ganengine.device import pick_device
from ganengine.progress import Progress, ProgressMeter, TrainResult
from ganengine.trainable import Trainable, TrainState

LATEST = "checkpoint-latest.pt"


def checkpoint_name(step: int) -> str:
    """The file name of the checkpoint a call ends with, e.g. checkpoint-001500.pt."""
    return f"checkpoint-{step:06d}.pt"


def train(
    family: Trainable,
    config: ConfigBase,
    data: Any,
    out_dir: str | Path,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_checkpoint: Callable[[Path, int], None] | None = None,
    resume_from: str | Path | None = None,
    device: str | torch.device | None = None,
) -> TrainResult:
    """Train until config.steps or should_stop() is true; `data` is what the family trains on.

    For the unconditional family `data` is the images ([N, C, R, R] in [-1, 1]); for the
    mask-to-image family images and masks (Family.training_data makes it from the images).
    """
    config = family.config(config)
    device = pick_device(device)
    data = family.prepare(data, config, device)
    out_dir = Path(out_dir)
    state = new_state(family, config, device, resume_from)
    meter, losses = ProgressMeter(config.steps, config.batch_size), {}
    cancelled = False

    while state.step < config.steps:
        if should_stop is not None and should_stop():
            cancelled = True
            break
        meter.add(advance(family, state, data, config))

        finished = state.step == config.steps
        wants_samples = finished or state.step % config.sample_every == 0
        if wants_samples or state.step % config.progress_every == 0:
            show = wants_samples and on_progress is not None
            progress = meter.report(
                state.step, family.samples(state, data, config) if show else None
            )
            losses = progress.losses
            if on_progress is not None:
                on_progress(progress)
        if not finished and state.step % config.checkpoint_every == 0:
            _save(family, state, config, out_dir / LATEST, on_checkpoint)

    if meter.pending:  # steps since the last report, when cancelled
        losses = meter.means()
    final = out_dir / checkpoint_name(state.step)
    _save(family, state, config, final, on_checkpoint, also=out_dir / LATEST)
    return TrainResult(checkpoint_path=final, step=state.step, cancelled=cancelled, losses=losses)


def new_state(
    family: Trainable,
    config: ConfigBase,
    device: torch.device,
    resume_from: str | Path | None = None,
) -> TrainState:
    """The family's training state on `device`: fresh from config.seed, or from a checkpoint."""
    rng = torch.Generator(device=device)
    if resume_from is None:
        return family.new_state(config, device, rng.manual_seed(config.seed))
    saved = family.load_checkpoint(resume_from)
    for name in family.architecture:
        if getattr(saved["config"], name) != getattr(config, name):
            raise CheckpointError(
                f"Checkpoint {resume_from} has {name}={getattr(saved['config'], name)!r} "
                f"but the config asks for {getattr(config, name)!r}"
            )
    if saved["rng"]["device_type"] == device.type:
        rng.set_state(saved["rng"]["state"])
    else:
        rng.manual_seed(config.seed + saved["step"])
    return family.new_state(config, device, rng, saved)


def advance(
    family: Trainable, state: TrainState, data: Any, config: ConfigBase
) -> dict[str, torch.Tensor]:
    """One step of the family's training; the one place where the step counter moves."""
    losses = family.step(state, data, config)
    state.step += 1
    return losses


def _save(
    family: Trainable,
    state: TrainState,
    config: ConfigBase,
    path: Path,
    on_checkpoint: Callable[[Path, int], None] | None,
    also: Path | None = None,
) -> None:
    parts = family.state_dict(state)
    if set(parts) != set(family.checkpoint_keys):
        raise RuntimeError(
            f"Family {family.name}'s state_dict gave {sorted(parts)}, not its checkpoint_keys "
            f"{sorted(family.checkpoint_keys)}"
        )
    checkpoint = {
        "config": json.dumps(config.to_dict()),
        "step": state.step,
        **parts,
        "rng": {"device_type": state.rng.device.type, "state": state.rng.get_state()},
    }
    paths = [path] if also is None else [path, also]
    save_checkpoint(
        checkpoint, *paths, format=family.checkpoint_format, version=family.checkpoint_version
    )
    if on_checkpoint is not None:
        on_checkpoint(path, state.step)
