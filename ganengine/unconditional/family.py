"""The unconditional family as the registry sees it: FastGAN or DCGAN from noise to an image.

Its checkpoint files are described in ganengine/unconditional/checkpoints.py.

No torch at import: the methods that train or generate import their modules when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganengine.family import Family, Generated
from ganengine.unconditional.checkpoints import UnconditionalCheckpoints
from ganengine.unconditional.config import ARCHITECTURE, UnconditionalConfig

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ganengine.unconditional.steps import UnconditionalState


class UnconditionalFamily(UnconditionalCheckpoints, Family):
    name = "unconditional"
    label = "Unconditional: FastGAN or DCGAN, noise to image"
    architecture = ARCHITECTURE

    def prepare(
        self, data: torch.Tensor, config: UnconditionalConfig, device: torch.device
    ) -> torch.Tensor:
        from ganengine.unconditional import steps

        return steps.prepare(data, config, device)

    def new_state(
        self,
        config: UnconditionalConfig,
        device: torch.device,
        rng: torch.Generator,
        saved: dict[str, Any] | None = None,
    ) -> UnconditionalState:
        from ganengine.unconditional import steps

        return steps.new_state(config, device, rng, saved)

    def step(
        self, state: UnconditionalState, data: torch.Tensor, config: UnconditionalConfig
    ) -> dict[str, torch.Tensor]:
        from ganengine.unconditional import steps

        return steps.train_step(state, data, config)

    def samples(
        self, state: UnconditionalState, data: torch.Tensor, config: UnconditionalConfig
    ) -> np.ndarray:
        from ganengine.unconditional import steps

        return steps.samples(state, config)

    def state_dict(self, state: UnconditionalState) -> dict[str, Any]:
        from ganengine.unconditional import steps

        return steps.state_dict(state)

    def generate(
        self,
        checkpoint: str | Path,
        count: int,
        *,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> Generated:
        from ganengine.unconditional.generation import generate

        return Generated(images=generate(checkpoint, count, seed=seed, device=device))
