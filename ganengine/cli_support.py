"""What every `python -m ganengine` subcommand shares: usage error, --device, Ctrl-C, progress."""

from __future__ import annotations

import signal
from pathlib import Path

import torch
from PIL import Image

from ganengine.device import pick_device
from ganengine.progress import Progress, TrainResult


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


class StopOnCtrlC:
    """A training run's should_stop: the first Ctrl-C finishes the step, saves a checkpoint and
    returns; a second one kills the process at once."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGINT, self._request)

    def _request(self, signum: int, frame: object) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    def __call__(self) -> bool:
        return self.requested


def print_result(result: TrainResult) -> int:
    state = "stopped" if result.cancelled else "finished"
    print(f"{state} at step {result.step}; checkpoint {result.checkpoint_path}")
    return 0


def report_progress(p: Progress, out: Path) -> None:
    """One line per report, and each sample grid saved beside the checkpoints."""
    losses = " ".join(f"{name}={value:.3f}" for name, value in p.losses.items())
    eta = f"{int(p.eta_seconds // 60)}m{int(p.eta_seconds % 60):02d}s"
    print(f"step {p.step}/{p.total_steps}  {losses}  {p.images_per_second:.1f} img/s  ETA {eta}")
    if p.samples is not None:
        Image.fromarray(p.samples).save(out / f"samples-{p.step:06d}.png")
