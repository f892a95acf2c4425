"""What a training loop reports, for both model families: Progress, TrainResult, ProgressMeter."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass
class Progress:
    step: int  # steps completed
    total_steps: int
    # Means over the steps since the previous report, by loss name; a loss that only some steps
    # compute (fastgan's lazy r1) is averaged over those steps.
    losses: dict[str, float]
    images_per_second: float  # real images through the training step per second
    eta_seconds: float
    samples: np.ndarray | None = None  # uint8 H x W grid from fixed inputs


@dataclass
class TrainResult:
    checkpoint_path: Path  # the step-named checkpoint written at the end
    step: int
    cancelled: bool
    losses: dict[str, float]


class ProgressMeter:
    """Loss sums and throughput over the steps since the last report.

    Losses stay tensors until a report, so a step on CUDA never waits for the GPU to read them.
    """

    def __init__(self, total_steps: int, batch_size: int) -> None:
        self.total_steps = total_steps
        self.batch_size = batch_size
        self._reset()

    def _reset(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}
        self._steps = 0
        self._start = time.perf_counter()

    @property
    def pending(self) -> bool:
        """Whether steps were added since the last report."""
        return self._steps > 0

    def add(self, losses: dict[str, torch.Tensor]) -> None:
        """Count one training step and the losses it computed."""
        for name, value in losses.items():
            self._sums[name] = self._sums.get(name, 0) + value
            self._counts[name] = self._counts.get(name, 0) + 1
        self._steps += 1

    def means(self) -> dict[str, float]:
        return {name: float(total) / self._counts[name] for name, total in self._sums.items()}

    def report(self, step: int, samples: np.ndarray | None = None) -> Progress:
        """The Progress of the steps since the last report; starts the next window."""
        steps_per_second = self._steps / max(time.perf_counter() - self._start, 1e-9)
        progress = Progress(
            step=step,
            total_steps=self.total_steps,
            losses=self.means(),
            images_per_second=steps_per_second * self.batch_size,
            eta_seconds=(self.total_steps - step) / max(steps_per_second, 1e-9),
            samples=samples,
        )
        self._reset()
        return progress
