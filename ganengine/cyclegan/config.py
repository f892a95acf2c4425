"""CycleGAN training configuration: one dataclass, JSON round-trip, validation and presets."""

from __future__ import annotations

from dataclasses import dataclass

from ganengine.config import ConfigBase, preset_label, require_betas, require_int

# Fields that fix the shapes of the networks: a resumed run must keep them.
ARCHITECTURE = ("resolution", "base_channels_g", "base_channels_d", "n_blocks", "hist_bins")


@dataclass
class CycleGANConfig(ConfigBase):
    resolution: int = 256  # image and mask side; a power of two in 32..512
    base_channels_g: int = (
        64  # ResNet generator width at full resolution (x2, x4 after downsampling)
    )
    base_channels_d: int = 64  # PatchGAN width of its first layer
    n_blocks: int = 9  # residual blocks in each generator (CycleGAN: 6 at 128 px, 9 at 256 px)
    batch_size: int = 1
    steps: int = 150_000
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    # Linear decay of the learning rate to 0 from this step on; None keeps it constant.
    lr_decay_start: int | None = 75_000
    cycle_weight: float = 10.0
    # Identity loss F(mask) ~ mask, G(image) ~ image, relative to cycle_weight as in CycleGAN
    # (whose default is also 0.5); 0 disables it. Masks and images share their polarity (an
    # aponeurosis is +1 in a mask and a bright band in an image), so it holds F's aponeurosis
    # label on the bright bands. Without it, F's labels drifted off them: aponeurosis IoU 0.35
    # at step 500, 0.03 at step 1000 of one 128 px run (README of ganengine).
    identity_weight: float = 0.5
    hist_weight: float = 1.0  # HM-CycleGAN histogram discriminators; 0 disables them
    hist_bins: int = 256  # sorted-intensity quantiles per image fed to the histogram MLP
    pool_size: int = 50  # image pool of earlier fakes for the discriminators; 0 disables it
    seed: int = 0
    progress_every: int = 100
    sample_every: int = 2_000
    checkpoint_every: int = 2_000

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)  # JSON turns tuples into lists

    @classmethod
    def presets(cls) -> dict[str, CycleGANConfig]:
        return CYCLEGAN_PRESETS

    @classmethod
    def preset_description(cls, name: str) -> str:
        return preset_label("CycleGAN", CYCLEGAN_PRESETS[name], PRESET_TIMES[name])

    def validate(self) -> CycleGANConfig:
        """Raise ValueError naming the first bad field; return self so calls can chain."""
        r = self.resolution
        if not (isinstance(r, int) and 32 <= r <= 512 and r & (r - 1) == 0):
            raise ValueError(f"resolution must be a power of two from 32 to 512, not {r!r}")
        for name in ("base_channels_g", "base_channels_d", "n_blocks", "batch_size", "steps"):
            require_int(name, getattr(self, name))
        for name in ("progress_every", "sample_every", "checkpoint_every"):
            require_int(name, getattr(self, name))
        require_int("hist_bins", self.hist_bins, 2)
        require_int("pool_size", self.pool_size, 0)
        require_int("seed", self.seed, 0)
        if self.hist_bins > r * r:
            raise ValueError(f"hist_bins must be at most resolution**2 = {r * r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, not {self.lr!r}")
        require_betas(self.betas)
        for name in ("cycle_weight", "identity_weight", "hist_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)!r}")
        if self.lr_decay_start is not None:
            require_int("lr_decay_start", self.lr_decay_start, 0)
        return self

    def lr_at(self, step: int) -> float:
        """Learning rate for the step after `step` completed steps."""
        start = self.lr_decay_start
        if start is None or step < start or start >= self.steps:
            return self.lr
        return self.lr * (self.steps - step) / (self.steps - start)


CYCLEGAN_PRESETS: dict[str, CycleGANConfig] = {
    # Seconds on a CPU: for tests and smoke runs.
    "tiny": CycleGANConfig(
        resolution=32,
        base_channels_g=8,
        base_channels_d=8,
        n_blocks=2,
        batch_size=2,
        steps=20,
        lr_decay_start=None,
        hist_bins=32,
        pool_size=8,
        progress_every=5,
        sample_every=10,
        checkpoint_every=10,
    ),
    # About 22 minutes on two idle CPU cores: held-out aponeurosis IoU 0.52. At 128 px an
    # aponeurosis (1.3 to 3.5 % of the side) is 2 to 4 px thick; the same run at 64 px takes
    # half the time and reaches 0.47 (ganengine README).
    "cpu-demo": CycleGANConfig(
        resolution=128,
        base_channels_g=16,
        base_channels_d=16,
        n_blocks=6,
        batch_size=2,
        steps=1_500,
        lr_decay_start=750,
        hist_bins=128,
        progress_every=50,
        sample_every=250,
        checkpoint_every=250,
    ),
    # The published setting (ResNet-9 generators, batch 1) at 256 px for a CUDA worker: ~200
    # epochs of ~750 images.
    "gpu-256": CycleGANConfig(),
}

# Each preset's training time for the admin's list (preset_label): CPU seconds per step, measured
# on the project's two-core CPU, or a phrase where there is no figure.
PRESET_TIMES: dict[str, float | str] = {
    "tiny": "seconds (tests)",
    "cpu-demo": 22 * 60 / 1_500,  # about 22 minutes for its 1,500 steps on idle cores (above)
    "gpu-256": "one GPU, not yet timed",  # no GPU figure of this project exists yet
}
