"""Training configuration: one dataclass, JSON/YAML files, validation and named presets."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Supported output sides per model (powers of two, inclusive).
RESOLUTIONS = {"dcgan": (32, 256), "fastgan": (64, 512)}
MODELS = tuple(RESOLUTIONS)
AUGMENTATIONS = ("translation", "cutout", "brightness", "contrast")
PRECISIONS = ("fp32", "bf16")
_FLOATS = ("lr_g", "lr_d", "ema_decay", "r1_gamma", "rec_weight")
_BOOLS = ("channels_last", "compile")


class ConfigError(ValueError):
    """A configuration file that cannot be read or holds an invalid configuration."""


class ConfigBase:
    """What every model family's config dataclass shares: presets, dict and file round trips.

    A subclass is a dataclass with a `validate()` returning self and a `presets()` classmethod.
    """

    @classmethod
    def presets(cls) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> Any:
        presets = cls.presets()
        if name not in presets:
            raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(presets)}")
        return dataclasses.replace(presets[name], **overrides)

    def to_dict(self) -> dict[str, Any]:
        # JSON has no tuples; from_dict's dataclass turns the lists back.
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        cls._reject_unknown(data)
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> Any:
        """A validated config from a .json, .yaml or .yml file: a mapping of the config's fields.

        An optional `preset: NAME` key starts from that preset; the other keys override it.
        """
        path = Path(path)
        if path.suffix.lower() not in (".json", ".yaml", ".yml"):
            raise ConfigError(f"Config file {path} must end in .json, .yaml or .yml")
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except OSError as exc:
            raise ConfigError(f"Cannot read config file {path}: {exc.strerror or exc}") from exc
        except (ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"Config file {path} is not valid {path.suffix[1:]}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"Config file {path} must hold a mapping of settings")
        data = dict(data)
        try:
            base = cls.preset(str(data.pop("preset"))) if "preset" in data else cls()
            cls._reject_unknown(data)
            return dataclasses.replace(base, **cls._numbers_from_strings(data)).validate()
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"Config file {path}: {exc}") from exc

    @classmethod
    def _reject_unknown(cls, data: dict[str, Any]) -> None:
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"Unknown {cls.__name__} key(s): {', '.join(unknown)}")

    @classmethod
    def _numbers_from_strings(cls, data: dict[str, Any]) -> dict[str, Any]:
        # YAML 1.1 reads "1e-3" (no dot) as a string; accept it for the float fields.
        floats = {f.name for f in dataclasses.fields(cls) if f.type in ("float", float)}
        converted = dict(data)
        for name in floats & converted.keys():
            if isinstance(converted[name], str):
                with contextlib.suppress(ValueError):  # else validate() names the field
                    converted[name] = float(converted[name])
        return converted


@dataclass
class TrainConfig(ConfigBase):
    model: str = "dcgan"  # "dcgan" or "fastgan" (ganengine/models/)
    resolution: int = 64  # output side in pixels; a power of two (RESOLUTIONS per model)
    latent_dim: int = 128
    base_channels: int = 64  # width at full resolution; doubles per halving, capped at 8x
    batch_size: int = 64
    steps: int = 20_000
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    ema_decay: float = 0.999
    seed: int = 0
    # DiffAugment policy (https://arxiv.org/abs/2006.10738): comma-separated, "" disables it.
    augment: str = "translation,cutout,brightness,contrast"
    # R1 gradient penalty on real images (Mescheder et al. 2018), lazily every r1_every steps.
    r1_gamma: float = 0.0  # 0 disables it
    r1_every: int = 16
    rec_weight: float = 1.0  # fastgan: weight of D's self-supervised reconstruction loss
    # Speed (https://pytorch.org/docs/stable/notes/cuda.html): these act on CUDA only and are
    # ignored on the CPU, so one config runs anywhere.
    precision: str = "fp32"  # "bf16": autocast the forward passes to bfloat16
    channels_last: bool = False  # NHWC memory format for tensor-core convolutions
    compile: bool = False  # torch.compile G and D (a minute of compilation first)
    progress_every: int = 50
    sample_every: int = 1_000
    checkpoint_every: int = 1_000

    def __post_init__(self) -> None:
        # JSON turns tuples into lists; keep the in-memory type stable either way.
        if isinstance(self.betas, list | tuple):
            self.betas = tuple(self.betas)

    @classmethod
    def presets(cls) -> dict[str, TrainConfig]:
        return PRESETS

    def augment_ops(self) -> list[str]:
        return [op.strip() for op in self.augment.split(",") if op.strip()]

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first bad field; return self so calls can chain."""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, not {self.model!r}")
        r, (low, high) = self.resolution, RESOLUTIONS[self.model]
        if not (_is_int(r) and low <= r <= high and r & (r - 1) == 0):
            raise ValueError(
                f"resolution must be a power of two from {low} to {high} for {self.model}, "
                f"not {r!r}"
            )
        for name in ("latent_dim", "base_channels", "batch_size", "steps", "r1_every"):
            require_int(name, getattr(self, name))
        for name in ("progress_every", "sample_every", "checkpoint_every"):
            require_int(name, getattr(self, name))
        require_int("seed", self.seed, 0)
        for name in _FLOATS:
            if not _is_number(getattr(self, name)):
                raise ValueError(f"{name} must be a number, not {getattr(self, name)!r}")
        for name in ("lr_g", "lr_d"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)!r}")
        for name in ("r1_gamma", "rec_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be zero or positive, not {getattr(self, name)!r}")
        require_betas(self.betas)
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), not {self.ema_decay!r}")
        if not isinstance(self.augment, str):
            raise ValueError(f"augment must be a comma-separated string, not {self.augment!r}")
        bad = [op for op in self.augment_ops() if op not in AUGMENTATIONS]
        if bad:
            raise ValueError(
                f"Unknown augmentation(s) {', '.join(bad)}; choose from {', '.join(AUGMENTATIONS)}"
            )
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}"
            )
        for name in _BOOLS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, not {getattr(self, name)!r}")
        return self


# Field checks shared by every family's validate(): each raises ValueError naming the field.


def require_int(name: str, value: Any, minimum: int = 1) -> None:
    if not (_is_int(value) and value >= minimum):
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        raise ValueError(f"{name} must be {kind}, not {value!r}")


def require_betas(betas: Any) -> None:
    if not (
        isinstance(betas, tuple) and len(betas) == 2 and all(_is_number(b) for b in betas)
    ) or not all(0 <= b < 1 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1), not {betas!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


PRESETS: dict[str, TrainConfig] = {
    # Seconds on a CPU: for tests and smoke runs, not for images anyone should look at.
    "tiny": TrainConfig(
        resolution=32,
        latent_dim=32,
        base_channels=8,
        batch_size=16,
        steps=60,
        lr_g=1e-3,
        lr_d=1e-3,
        ema_decay=0.99,
        progress_every=10,
        sample_every=30,
        checkpoint_every=30,
    ),
    # 5.5 minutes on two idle CPU cores, 8 to 9 when shared (README: what the samples show).
    "cpu-demo": TrainConfig(
        model="fastgan",
        resolution=64,
        latent_dim=64,
        base_channels=8,
        batch_size=16,
        steps=2_500,
        ema_decay=0.995,
        progress_every=100,
        sample_every=500,
        checkpoint_every=500,
    ),
    # One CUDA GPU, a few hundred to a few thousand images.
    "gpu-256": TrainConfig(
        model="fastgan",
        resolution=256,
        latent_dim=256,
        base_channels=32,
        batch_size=32,
        steps=50_000,
        precision="bf16",
        channels_last=True,
        compile=True,
        progress_every=100,
        sample_every=2_000,
        checkpoint_every=2_000,
    ),
    "gpu-512": TrainConfig(
        model="fastgan",
        resolution=512,
        latent_dim=256,
        base_channels=16,
        batch_size=16,
        steps=80_000,
        precision="bf16",
        channels_last=True,
        compile=True,
        progress_every=100,
        sample_every=2_000,
        checkpoint_every=2_000,
    ),
}
