"""The unconditional family's training configuration: one dataclass, validation and presets."""

from __future__ import annotations

from dataclasses import dataclass

from ganengine.config import (
    ConfigBase,
    is_int,
    is_number,
    preset_label,
    require_betas,
    require_int,
)

# Supported output sides per model (powers of two, inclusive).
RESOLUTIONS = {"dcgan": (32, 256), "fastgan": (64, 512)}
MODELS = tuple(RESOLUTIONS)
MODEL_NAMES = {"dcgan": "DCGAN", "fastgan": "FastGAN"}
AUGMENTATIONS = ("translation", "cutout", "brightness", "contrast")
PRECISIONS = ("fp32", "bf16")
PADDINGS = ("zeros", "reflect")
# Image channels: 1 grey, 3 RGB.
CHANNELS = (1, 3)
# Fields that fix the networks (their shapes, and what the generator's convs see past the
# image's edge): a resumed run must keep them.
ARCHITECTURE = ("model", "resolution", "latent_dim", "base_channels", "channels", "padding")
_FLOATS = ("lr_g", "lr_d", "ema_decay", "r1_gamma", "rec_weight")
_BOOLS = ("channels_last", "compile")


@dataclass
class UnconditionalConfig(ConfigBase):
    model: str = "dcgan"  # "dcgan" or "fastgan" (dcgan.py, fastgan.py beside this file)
    resolution: int = 64  # output side in pixels; a power of two (RESOLUTIONS per model)
    # 1 (grey) or 3 (RGB). Presets leave it at 1; the CLI and the web app set it from the data.
    # A checkpoint written before the field existed reads as 1: its generator is grey.
    channels: int = 1
    latent_dim: int = 128
    base_channels: int = 64  # width at full resolution; doubles per halving, capped at 8x
    # What the generator's 3x3 convs read past the edge of their map. "zeros" (torch's default)
    # printed a thin bright line along the borders of the first demo generator's samples
    # (benchmarks/bench_artefacts.py measures it); every preset uses "reflect". The default is
    # "zeros" because a config without the field, the checkpoints written before it existed
    # included, was trained with zero padding and must generate as it did.
    padding: str = "zeros"
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
    # Speed (ganengine/unconditional/steps.py): each applies where the device supports it and
    # is ignored elsewhere, so one config runs anywhere.
    precision: str = "fp32"  # "bf16": autocast the forward passes (CUDA, CPUs with bf16)
    channels_last: bool = False  # NHWC memory format (tensor cores; oneDNN on the CPU)
    compile: bool = False  # CUDA: torch.compile G and D (a minute of compilation first)
    progress_every: int = 50
    sample_every: int = 1_000
    checkpoint_every: int = 1_000

    def __post_init__(self) -> None:
        # JSON turns tuples into lists; keep the in-memory type stable either way.
        if isinstance(self.betas, list | tuple):
            self.betas = tuple(self.betas)

    @classmethod
    def presets(cls) -> dict[str, UnconditionalConfig]:
        return PRESETS

    @classmethod
    def preset_description(cls, name: str) -> str:
        config = PRESETS[name]
        return preset_label(MODEL_NAMES[config.model], config, PRESET_TIMES[name])

    def augment_ops(self) -> list[str]:
        return [op.strip() for op in self.augment.split(",") if op.strip()]

    def validate(self) -> UnconditionalConfig:
        """Raise ValueError naming the first bad field; return self so calls can chain."""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, not {self.model!r}")
        r, (low, high) = self.resolution, RESOLUTIONS[self.model]
        if not (is_int(r) and low <= r <= high and r & (r - 1) == 0):
            raise ValueError(
                f"resolution must be a power of two from {low} to {high} for {self.model}, "
                f"not {r!r}"
            )
        if not (is_int(self.channels) and self.channels in CHANNELS):
            raise ValueError(f"channels must be 1 (grey) or 3 (RGB), not {self.channels!r}")
        for name in ("latent_dim", "base_channels", "batch_size", "steps", "r1_every"):
            require_int(name, getattr(self, name))
        for name in ("progress_every", "sample_every", "checkpoint_every"):
            require_int(name, getattr(self, name))
        require_int("seed", self.seed, 0)
        for name in _FLOATS:
            if not is_number(getattr(self, name)):
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
        if self.padding not in PADDINGS:
            raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, not {self.padding!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}"
            )
        for name in _BOOLS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, not {getattr(self, name)!r}")
        return self


PRESETS: dict[str, UnconditionalConfig] = {
    # Seconds on a CPU: for tests and smoke runs, not for images anyone should look at.
    "tiny": UnconditionalConfig(
        resolution=32,
        latent_dim=32,
        base_channels=8,
        padding="reflect",
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
    "cpu-demo": UnconditionalConfig(
        model="fastgan",
        resolution=64,
        latent_dim=64,
        base_channels=8,
        padding="reflect",
        batch_size=16,
        steps=2_500,
        ema_decay=0.995,
        progress_every=100,
        sample_every=500,
        checkpoint_every=500,
    ),
    # The shipped demo generator (pretrained/muscle-us-fastgan-128/MODEL_CARD.md): 128 px on a
    # CPU, about 1.7 steps/s on two idle cores (benchmarks/demo_generator.py). bf16 trains 1.65x
    # faster than fp32 there; channels_last did not help (1.02x alone, 1.41x with bf16), so it
    # is off (the shipped generator was trained with it on; benchmarks/bench_ganengine.py).
    "cpu-128": UnconditionalConfig(
        model="fastgan",
        resolution=128,
        latent_dim=128,
        base_channels=8,
        padding="reflect",
        batch_size=16,
        steps=12_000,
        ema_decay=0.999,
        precision="bf16",
        progress_every=100,
        sample_every=1_000,
        checkpoint_every=250,
    ),
    # One CUDA GPU, a few hundred to a few thousand images.
    "gpu-256": UnconditionalConfig(
        model="fastgan",
        resolution=256,
        latent_dim=256,
        base_channels=32,
        padding="reflect",
        batch_size=32,
        steps=50_000,
        precision="bf16",
        channels_last=True,
        compile=True,
        progress_every=100,
        sample_every=2_000,
        checkpoint_every=2_000,
    ),
    "gpu-512": UnconditionalConfig(
        model="fastgan",
        resolution=512,
        latent_dim=256,
        base_channels=16,
        padding="reflect",
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

# Each preset's training time for the admin's list (preset_label): CPU seconds per step, measured
# on the project's two-core CPU, or a phrase where there is no figure.
PRESET_TIMES: dict[str, float | str] = {
    "tiny": "seconds (tests)",
    "cpu-demo": 330 / 2_500,  # 5.5 min for its 2,500 steps on idle cores (comment above)
    # The shipped generator's run: 4,500 steps in 3,453 s (pretrained/.../card.json, "training").
    "cpu-128": 3_453 / 4_500,
    "gpu-256": "one GPU, not yet timed",  # no GPU figure of this project exists yet
    "gpu-512": "one GPU, not yet timed",
}
