"""What the training loop receives: a Trainable, the state it trains and its checkpoint kind.

    ganengine.loop.train(family, config, data, out_dir, ...)

The loop (ganengine/loop.py) never looks a family up: its caller hands it a Trainable, which
every ganengine.family.Family is. This module sits below both the loop and the families, so
neither imports the other to share these types: the families import the loop, not the reverse.

- CheckpointKind: a family's checkpoint files (format, version, entries, config class) and how
  they are read; generation code reads checkpoints through it without its family.
- TrainState: what the loop reads of every family's training state.
- Trainable: a CheckpointKind plus the training hooks the loop calls.

No torch at import, like ganengine/family.py: the web process imports the registry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ganengine.config import ConfigBase

if TYPE_CHECKING:
    import numpy as np
    import torch


class CheckpointKind:
    """The checkpoint files of one family; subclasses set the class attributes."""

    config_class: ClassVar[type[ConfigBase]]
    checkpoint_format: ClassVar[str]  # the "format" a checkpoint file declares
    checkpoint_version: ClassVar[int]
    # Earlier versions that this code cannot read, with the reason an error message gives.
    retired_versions: ClassVar[dict[int, str]] = {}
    # What Trainable.state_dict() returns; the loop adds "config" (JSON), "step" and "rng".
    checkpoint_keys: ClassVar[tuple[str, ...]]
    # The format of a generator-only export (no discriminator, no optimiser state) that the
    # family's generation also reads, for families that have one.
    generator_format: ClassVar[str | None] = None

    def load_checkpoint(
        self, path: str | Path, loaded: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A checkpoint of this kind, tensors on the CPU and `config` parsed and validated.

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


@dataclass
class TrainState:
    """What the loop reads of every family's training state; each family subclasses it."""

    rng: torch.Generator  # all training randomness: batches, noise, augmentation
    step: int  # steps completed


class Trainable(CheckpointKind, ABC):
    """What ganengine.loop runs: a family's training hooks and its checkpoint kind."""

    # Stored with each of the web app's runs; also "name:preset" in its forms, so no ":".
    name: ClassVar[str]
    # Config fields that fix the networks' shapes: resuming with other values is refused.
    architecture: ClassVar[tuple[str, ...]]

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
