import json
from pathlib import Path

import pytest
import torch

from ganengine import CheckpointError
from ganengine.checkpoint import save_checkpoint
from ganengine.unconditional import UnconditionalConfig, build_models, load_generator


def test_saved_generator_loads_with_identical_outputs(tmp_path: Path) -> None:
    config = UnconditionalConfig.preset("tiny", seed=4)
    generator, discriminator = build_models(config)
    generator.eval()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(
        {
            "config": json.dumps(config.to_dict()),
            "step": 0,
            "generator": generator.state_dict(),
            "discriminator": discriminator.state_dict(),
            "generator_ema": generator.state_dict(),
            "opt_g": {},
            "opt_d": {},
            "rng": {"device_type": "cpu", "state": torch.Generator().get_state()},
        },
        path,
        format="ganengine-checkpoint",
        version=2,
    )
    loaded, loaded_config = load_generator(path, device="cpu")
    z = torch.randn(5, config.latent_dim)
    with torch.no_grad():
        assert torch.equal(loaded(z), generator(z))
    assert loaded_config == config
    assert not loaded.training
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary file left behind


def test_missing_checkpoint_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=f"{tmp_path / 'gone.pt'} does not exist"):
        load_generator(tmp_path / "gone.pt")


def test_corrupt_checkpoint_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(b"definitely not a zip archive")
    with pytest.raises(CheckpointError, match="bad.pt is corrupt"):
        load_generator(path)


def test_foreign_torch_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not a checkpoint of kind ganengine-checkpoint"):
        load_generator(path)


def test_truncated_checkpoint_is_corrupt(checkpoint: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.pt"
    path.write_bytes(checkpoint.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_generator(path)


def test_a_checkpoint_of_a_retired_version_is_refused_with_the_reason(
    checkpoint: Path, tmp_path: Path
) -> None:
    # A run trained before the anti-aliased networks: same layout, version 1.
    old = torch.load(checkpoint, weights_only=True)
    path = tmp_path / "old.pt"
    save_checkpoint(
        {key: value for key, value in old.items() if key not in ("format", "version")},
        path,
        format="ganengine-checkpoint",
        version=1,
    )
    with pytest.raises(CheckpointError, match="unsupported version 1: .*train the run anew"):
        load_generator(path)
