"""The mask-to-image family as the registry sees it: HM-CycleGAN between masks and images.

It trains on real images and on synthetic label masks that it draws itself (training_data:
cyclegan.data.training_masks of the config's resolution and seed), and generates each image
together with the mask it was drawn from.

Its checkpoint files are described in ganengine/cyclegan/checkpoints.py.

No torch at import: the methods that train or generate import their modules when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganengine.cyclegan.checkpoints import CycleGANCheckpoints
from ganengine.cyclegan.config import ARCHITECTURE, CycleGANConfig
from ganengine.family import Family, Generated

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ganengine.cyclegan.data import UnpairedData
    from ganengine.cyclegan.steps import CycleGANState


class MaskToImageFamily(CycleGANCheckpoints, Family):
    name = "mask_to_image"
    label = "Mask-to-image: HM-CycleGAN, an image with its muscle mask"
    architecture = ARCHITECTURE

    def training_data(self, images: torch.Tensor, config: CycleGANConfig) -> UnpairedData:
        from ganengine.cyclegan.data import UnpairedData, training_masks

        return UnpairedData(images, training_masks(config.resolution, config.seed))

    def prepare(
        self, data: UnpairedData, config: CycleGANConfig, device: torch.device
    ) -> UnpairedData:
        from ganengine.cyclegan import steps

        return steps.prepare(data, config, device)

    def new_state(
        self,
        config: CycleGANConfig,
        device: torch.device,
        rng: torch.Generator,
        saved: dict[str, Any] | None = None,
    ) -> CycleGANState:
        from ganengine.cyclegan import steps

        return steps.new_state(config, device, rng, saved)

    def step(
        self, state: CycleGANState, data: UnpairedData, config: CycleGANConfig
    ) -> dict[str, torch.Tensor]:
        from ganengine.cyclegan import steps

        return steps.train_step(state, data, config)

    def samples(
        self, state: CycleGANState, data: UnpairedData, config: CycleGANConfig
    ) -> np.ndarray:
        from ganengine.cyclegan import steps

        return steps.samples(state, data, config)

    def state_dict(self, state: CycleGANState) -> dict[str, Any]:
        from ganengine.cyclegan import steps

        return steps.state_dict(state)

    def generate(
        self,
        checkpoint: str | Path,
        count: int,
        *,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> Generated:
        from ganengine.cyclegan.generation import generate_pairs

        images, masks = generate_pairs(checkpoint, count, seed=seed, device=device)
        return Generated(images=images, masks=masks)
