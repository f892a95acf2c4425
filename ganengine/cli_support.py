"""What every `python -m ganengine` subcommand shares: its usage error, --device, progress lines."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from ganengine.device import pick_device
from ganengine.train import Progress


class UsageError(ValueError):
    """Bad input the user can fix; reported like argparse's own errors (exit status 2)."""


def device_from_flag(name: str | None) -> torch.device:
    """The --device flag as a torch.device, refusing CUDA where there is none."""
    try:
        device = pick_device(name)
    except RuntimeError as exc:  # torch's message for a malformed name is already clear
        raise UsageError(str(exc)) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available on this machine")
    return device


def report_progress(p: Progress, out: Path) -> None:
    """One line per report, and each sample grid saved beside the checkpoints."""
    losses = " ".join(f"{name}={value:.3f}" for name, value in p.losses.items())
    eta = f"{int(p.eta_seconds // 60)}m{int(p.eta_seconds % 60):02d}s"
    print(f"step {p.step}/{p.total_steps}  {losses}  {p.images_per_second:.1f} img/s  ETA {eta}")
    if p.samples is not None:
        Image.fromarray(p.samples).save(out / f"samples-{p.step:06d}.png")
