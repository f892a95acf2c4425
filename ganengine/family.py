"""What a model family gives the training loop and the web app: the Family base class.

A family is one kind of generator: its config dataclass and presets, its networks, one training
step, what its checkpoints hold, and how it generates images. Its subpackage (for example
ganengine/unconditional/) defines a Family subclass, and ganengine/families.py registers one
instance of it. The loop (ganengine/loop.py) owns everything the families share: the step
counter, the training RNG, resume, checkpoint files, progress reports and cancellation.

This module, and each family's module that subclasses Family, imports no torch: the web process
reads names, labels, presets and configs from the registry. The training and generation methods
import their family's torch modules when they are called.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ganengine.config import ConfigBase

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ganengine.loop import TrainState
    from ganengine.progress import Progress, TrainResult


@dataclass
class Generated:
    """What Family.generate returns; image i is the image of seed `seed + i`."""

    images: np.ndarray  # uint8 [N, R, R]
    # uint8 label maps [N, R, R] (ganengine.masks labels) the images were drawn from, for
    # mask-to-image families; None for families without masks.
    masks: np.ndarray | None = None


class Family(ABC):
    """One model family. Subclasses set the class attributes and implement the methods."""

    # Stored with each of the web app's runs; also "name:preset" in its forms, so no ":".
    name: ClassVar[str]
    label: ClassVar[str]  # human text for the admin
    config_class: ClassVar[type[ConfigBase]]
    # Config fields that fix the networks' shapes: resuming with other values is refused.
    architecture: ClassVar[tuple[str, ...]]
    checkpoint_format: ClassVar[str]  # the "format" a checkpoint file declares
    checkpoint_version: ClassVar[int]
    # The format of a generator-only export (no discriminator, no optimiser state) that
    # generate() also reads, for families that have one.
    generator_format: ClassVar[str | None] = None
    # Earlier versions that this code cannot read, with the reason an error message gives.
    retired_versions: ClassVar[dict[int, str]] = {}
    # What state_dict() returns; the loop adds "config" (JSON), "step" and "rng".
    checkpoint_keys: ClassVar[tuple[str, ...]]

    # --- configuration (no torch) ---------------------------------------------------------

    def presets(self) -> dict[str, ConfigBase]:
        return self.config_class.presets()

    def preset(self, name: str, **overrides: Any) -> ConfigBase:
        """The validated preset `name` with `overrides`; ValueError names an unknown preset."""
        return self.config_class.preset(name, **overrides).validate()

    def config(self, config: ConfigBase | Mapping[str, Any]) -> ConfigBase:
        """A validated config of this family, from one or from its to_dict() (as stored)."""
        if isinstance(config, ConfigBase):
            if not isinstance(config, self.config_class):
                raise ValueError(
                    f"{type(config).__name__} is not a config of family {self.name} "
                    f"({self.config_class.__name__})"
                )
            return config.validate()
        return self.config_class.from_dict(dict(config)).validate()

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
        """Train on real `images` ([N, 1, R, R] in [-1, 1]) with ganengine.loop.train."""
        from ganengine.loop import train

        config = self.config(config)
        return train(
            config,
            self.training_data(images, config),
            out_dir,
            family=self,
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

    @abstractmethod
    def prepare(self, data: Any, config: ConfigBase, device: torch.device) -> Any:
        """`data` checked (ValueError naming what is wrong) and on `device`, for step()."""

    @abstractmethod
    def new_state(
        self,
        config: ConfigBase,
        device: torch.device,
        rng: torch.Generator,
        saved: dict[str, Any] | None = None,
    ) -> TrainState:
        """Networks and optimisers on `device`: fresh from config.seed, or from `saved`.

        `saved` is a checkpoint as load_checkpoint() returns it; the loop has already checked
        its architecture and made `rng`. The state's step is saved["step"], or 0 when fresh.
        """

    @abstractmethod
    def step(self, state: TrainState, data: Any, config: ConfigBase) -> dict[str, torch.Tensor]:
        """One training update, drawing all randomness from state.rng; the detached losses.

        state.step is the number of steps completed before this one: the loop advances it.
        """

    @abstractmethod
    def samples(self, state: TrainState, data: Any, config: ConfigBase) -> np.ndarray:
        """A uint8 grid of samples from fixed inputs, for Progress.samples."""

    @abstractmethod
    def state_dict(self, state: TrainState) -> dict[str, Any]:
        """The checkpoint_keys entries of a checkpoint: state_dicts and tensors only."""

    def load_checkpoint(
        self, path: str | Path, loaded: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A checkpoint of this family, tensors on the CPU and `config` parsed and validated.

        `loaded`: the file's dict, when the caller has read it already (checkpoint.load_file).
        """
        from ganengine.checkpoint import read_checkpoint

        return read_checkpoint(
            path,
            format=self.checkpoint_format,
            version=self.checkpoint_version,
            retired=self.retired_versions,
            loaded=loaded,
            required=("config", "step", "rng", *self.checkpoint_keys),
            config_class=self.config_class,
        )

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
