"""A model family from outside ganengine, for tests: it learns the mean training image.

Registered only by the `toy_family` fixture (tests/conftest.py), which unregisters it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganengine.config import ConfigBase, require_int
from ganengine.family import Family, Generated
from ganengine.images import grid, to_uint8
from ganengine.trainable import TrainState


@dataclass
class ToyConfig(ConfigBase):
    resolution: int = 16
    steps: int = 6
    batch_size: int = 4
    lr: float = 0.5
    seed: int = 0
    progress_every: int = 2
    sample_every: int = 3
    checkpoint_every: int = 4

    @classmethod
    def presets(cls) -> dict[str, ToyConfig]:
        return TOY_PRESETS

    def validate(self) -> ToyConfig:
        for name in ("resolution", "steps", "batch_size"):
            require_int(name, getattr(self, name))
        for name in ("progress_every", "sample_every", "checkpoint_every"):
            require_int(name, getattr(self, name))
        require_int("seed", self.seed, 0)
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, not {self.lr!r}")
        return self


TOY_PRESETS = {"tiny": ToyConfig(), "broken": ToyConfig(lr=0.0)}


@dataclass
class ToyState(TrainState):
    mean: torch.Tensor  # [1, R, R]


class ToyFamily(Family):
    name = "toy_mean"
    label = "Toy: the mean image"
    config_class = ToyConfig
    architecture = ("resolution",)
    checkpoint_format = "toy-mean"
    checkpoint_version = 1
    checkpoint_keys = ("mean",)

    def prepare(self, data: torch.Tensor, config: ToyConfig, device: torch.device) -> torch.Tensor:
        r = config.resolution
        if data.ndim != 4 or data.shape[1:] != (1, r, r):
            raise ValueError(f"images must be [N, 1, {r}, {r}], not {list(data.shape)}")
        return data.to(device, torch.float32)

    def new_state(
        self,
        config: ToyConfig,
        device: torch.device,
        rng: torch.Generator,
        saved: dict[str, Any] | None = None,
    ) -> ToyState:
        if saved is None:
            r = config.resolution
            return ToyState(rng=rng, step=0, mean=torch.zeros(1, r, r, device=device))
        return ToyState(rng=rng, step=saved["step"], mean=saved["mean"].to(device))

    def step(
        self, state: ToyState, data: torch.Tensor, config: ToyConfig
    ) -> dict[str, torch.Tensor]:
        picks = torch.randint(
            len(data), (config.batch_size,), device=data.device, generator=state.rng
        )
        target = data[picks].mean(0)
        state.mean = state.mean + config.lr * (target - state.mean)
        return {"distance": (target - state.mean).abs().mean()}

    def samples(self, state: ToyState, data: torch.Tensor, config: ToyConfig) -> np.ndarray:
        return grid(to_uint8(state.mean.unsqueeze(0)))

    def state_dict(self, state: ToyState) -> dict[str, Any]:
        return {"mean": state.mean.cpu()}

    def generate(
        self,
        checkpoint: str | Path,
        count: int,
        *,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> Generated:
        mean = self.load_checkpoint(checkpoint)["mean"]
        noise = [
            torch.randn(mean.shape, generator=torch.Generator().manual_seed(seed + i))
            for i in range(count)
        ]
        images = torch.stack([(mean + 0.1 * n).clamp(-1, 1) for n in noise])
        return Generated(images=to_uint8(images))
