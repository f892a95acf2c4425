"""What a model family gives the web app and the registry: the Family base class.

A family is one kind of generator: its config dataclass and presets, its networks, one training
step, what its checkpoints hold, and how it generates images. Its subpackage (for example
ganengine/unconditional/) defines a Family subclass, and ganengine/families.py registers one
instance of it. A Family is a ganengine.trainable.Trainable: Family.train hands the family
itself to the loop (ganengine/loop.py), which owns everything the families share: the step
counter, the training RNG, resume, checkpoint files, progress reports and cancellation.

This module, and each family's module that subclasses Family, imports no torch: the web process
reads names, labels, presets and configs from the registry. The training and generation methods
import their family's torch modules when they are called.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ganengine.config import ConfigBase
from ganengine.trainable import Trainable

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ganengine.progress import Progress, TrainResult


@dataclass
class Generated:
    """What Family.generate returns; image i is the image of seed `seed + i`."""

    images: np.ndarray  # uint8 [N, R, R]
    # uint8 label maps [N, R, R] (ganengine.masks labels) the images were drawn from, for
    # mask-to-image families; None for families without masks.
    masks: np.ndarray | None = None


class Family(Trainable):
    """One model family. Subclasses set the class attributes of Trainable and CheckpointKind
    (ganengine/trainable.py) and `label`, and implement the abstract methods of both classes."""

    label: ClassVar[str]  # human text for the admin

    # --- configuration (no torch) ---------------------------------------------------------

    def presets(self) -> dict[str, ConfigBase]:
        return self.config_class.presets()

    def preset(self, name: str, **overrides: Any) -> ConfigBase:
        """The validated preset `name` with `overrides`; ValueError names an unknown preset."""
        return self.config_class.preset(name, **overrides).validate()

    # --- training -------------------------------------------------------------------------

    def train(
        self,
        config: ConfigBase | Mapping[str, Any],
        images: torch.Tensor,
        out_dir: str | Path,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_checkpoint: Callable[[Path, int], None] | None = None,
        resume_from: str | Path | None = None,
        device: str | torch.device | None = None,
    ) -> TrainResult:
        """Train on real `images` ([N, C, R, R] in [-1, 1]) with ganengine.loop.train."""
        from ganengine.loop import train

        config = self.config(config)
        return train(
            self,
            config,
            self.training_data(images, config),
            out_dir,
            on_progress=on_progress,
            should_stop=should_stop,
            on_checkpoint=on_checkpoint,
            resume_from=resume_from,
            device=device,
        )

    def training_data(self, images: torch.Tensor, config: ConfigBase) -> Any:
        """What step() trains on, made from the real images; by default the images themselves.

        A family that needs more (a mask-to-image family's masks) makes it here.
        """
        return images

    # --- generation -----------------------------------------------------------------------

    @abstractmethod
    def generate(
        self,
        checkpoint: str | Path,
        count: int,
        *,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> Generated:
        """The images (and masks) of seeds seed .. seed + count - 1 from a checkpoint."""
