from pathlib import Path

import pytest
import torch

from ganengine import families, train
from ganengine.unconditional import PRESETS, UnconditionalConfig
from tests.ganengine.toy import band_images

UNCONDITIONAL = families.get("unconditional")

# These nets are tiny: on a small shared CPU, intra-op threads cost more in synchronisation than
# they gain (2 threads measured 2-40x slower and erratic on the 2-vCPU CI machine).
torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture
def tiny_config() -> UnconditionalConfig:
    return UnconditionalConfig.preset(
        "tiny", steps=6, progress_every=2, sample_every=3, checkpoint_every=4
    )


@pytest.fixture(scope="session")
def band_data() -> torch.Tensor:
    return band_images(64)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, band_data: torch.Tensor) -> Path:
    """A tiny checkpoint shared by the generation and CLI tests."""
    out = tmp_path_factory.mktemp("run")
    return train(UNCONDITIONAL, PRESETS["tiny"], band_data, out).checkpoint_path


@pytest.fixture
def fastgan_config() -> UnconditionalConfig:
    """FastGAN at its smallest resolution with tiny widths: a step takes milliseconds."""
    return UnconditionalConfig.preset(
        "tiny",
        model="fastgan",
        resolution=64,
        base_channels=4,
        batch_size=4,
        steps=4,
        progress_every=2,
        sample_every=4,
        checkpoint_every=2,
    )


@pytest.fixture(scope="session")
def band_data_64() -> torch.Tensor:
    return band_images(16, resolution=64)
