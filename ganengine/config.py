"""Training configuration: one dataclass, JSON round-trip, validation and named presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

MODELS = ("dcgan",)
AUGMENTATIONS = ("translation", "cutout", "brightness", "contrast")


@dataclass
class TrainConfig:
    model: str = "dcgan"
    resolution: int = 64  # output side in pixels; a power of two in 32..256
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
    progress_every: int = 50
    sample_every: int = 1_000
    checkpoint_every: int = 1_000

    def __post_init__(self) -> None:
        # JSON turns tuples into lists; keep the in-memory type stable either way.
        self.betas = tuple(self.betas)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TrainConfig:
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return dataclasses.replace(PRESETS[name], **overrides)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown TrainConfig key(s): {', '.join(unknown)}")
        return cls(**data)

    def augment_ops(self) -> list[str]:
        return [op.strip() for op in self.augment.split(",") if op.strip()]

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first bad field; return self so calls can chain."""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, not {self.model!r}")
        r = self.resolution
        if not (isinstance(r, int) and 32 <= r <= 256 and r & (r - 1) == 0):
            raise ValueError(f"resolution must be a power of two from 32 to 256, not {r!r}")
        for name in ("latent_dim", "base_channels", "batch_size", "steps"):
            _require_positive_int(name, getattr(self, name))
        for name in ("progress_every", "sample_every", "checkpoint_every"):
            _require_positive_int(name, getattr(self, name))
        if not (isinstance(self.seed, int) and self.seed >= 0):
            raise ValueError(f"seed must be a non-negative integer, not {self.seed!r}")
        for name in ("lr_g", "lr_d"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), not {self.betas!r}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), not {self.ema_decay!r}")
        bad = [op for op in self.augment_ops() if op not in AUGMENTATIONS]
        if bad:
            raise ValueError(
                f"Unknown augmentation(s) {', '.join(bad)}; choose from {', '.join(AUGMENTATIONS)}"
            )
        return self


def _require_positive_int(name: str, value: Any) -> None:
    if not (isinstance(value, int) and value >= 1):
        raise ValueError(f"{name} must be a positive integer, not {value!r}")


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
    # About five minutes on two CPU cores: shows the pipeline working, not realistic images.
    "cpu-demo": TrainConfig(
        resolution=64,
        latent_dim=64,
        base_channels=16,
        batch_size=32,
        steps=500,
        lr_g=5e-4,
        lr_d=5e-4,
        ema_decay=0.995,
        progress_every=20,
        sample_every=100,
        checkpoint_every=100,
    ),
    # The dataclass defaults: meant for a CUDA worker.
    "default": TrainConfig(),
}
