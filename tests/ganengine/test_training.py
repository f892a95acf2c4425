from pathlib import Path

import numpy as np
import pytest
import torch

from ganengine import CheckpointError, Progress, TrainConfig, generate, train
from ganengine.checkpoint import load_checkpoint
from ganengine.generation import image_latents
from ganengine.images import to_uint8
from ganengine.models import build_models
from tests.ganengine.toy import band_images, band_statistics


def _assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        if isinstance(value, dict):
            _assert_same_state(value, b[key])
        elif isinstance(value, torch.Tensor):
            assert torch.equal(value, b[key]), key
        else:
            assert value == b[key], key


def _training_state(path: Path) -> dict:
    state = load_checkpoint(path)
    return {key: state[key] for key in ("step", "generator", "discriminator", "generator_ema")} | {
        "opt_g": state["opt_g"]["state"],
        "opt_d": state["opt_d"]["state"],
        "rng": state["rng"],
    }


@pytest.mark.slow
def test_gan_learns_a_bright_band_at_random_depth(tmp_path: Path) -> None:
    data = band_images(512)
    config = TrainConfig.preset("tiny", steps=400, seed=1)
    target = band_statistics(to_uint8(data))
    untrained, _ = build_models(config)  # what the EMA generator is at step 0
    with torch.no_grad():
        before = band_statistics(to_uint8(untrained.eval()(image_latents(range(256), 32))))

    result = train(config, data, tmp_path)

    after = band_statistics(generate(result.checkpoint_path, 256))
    distance_before = np.abs(before - target).sum()
    distance_after = np.abs(after - target).sum()
    print(f"band statistics: data {target}, step 0 {before}, step 400 {after}")
    print(f"distance to data: {distance_before:.3f} -> {distance_after:.3f}")
    assert distance_after < 0.25 * distance_before
    assert after[2] > 0.4  # a clear bright row, not just the right mean grey level


def test_progress_reports_losses_speed_and_sample_grids(
    tmp_path: Path, tiny_config: TrainConfig, band_data: torch.Tensor
) -> None:
    reports: list[Progress] = []
    result = train(tiny_config, band_data, tmp_path, on_progress=reports.append)

    assert [p.step for p in reports] == [2, 3, 4, 6]  # progress_every=2, sample_every=3, end
    assert all(p.total_steps == 6 for p in reports)
    assert all(set(p.losses) == {"d", "g", "d_real", "d_fake"} for p in reports)
    assert all(p.images_per_second > 0 and p.eta_seconds >= 0 for p in reports)
    assert reports[-1].eta_seconds == 0
    with_samples = [p for p in reports if p.samples is not None]
    assert [p.step for p in with_samples] == [3, 6]
    grid = with_samples[-1].samples
    assert grid.dtype == np.uint8 and grid.shape == (4 * 34 + 2, 4 * 34 + 2)  # 4x4 tiles of 32
    assert result.losses == reports[-1].losses
    assert not result.cancelled and result.step == 6


def test_training_writes_latest_and_final_checkpoints(
    tmp_path: Path, tiny_config: TrainConfig, band_data: torch.Tensor
) -> None:
    result = train(tiny_config, band_data, tmp_path)
    assert result.checkpoint_path == tmp_path / "checkpoint-000006.pt"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-000006.pt",
        "checkpoint-latest.pt",
    ]
    assert load_checkpoint(tmp_path / "checkpoint-latest.pt")["step"] == 6


def test_same_seed_gives_identical_training_on_cpu(
    tmp_path: Path, tiny_config: TrainConfig, band_data: torch.Tensor
) -> None:
    first = train(tiny_config, band_data, tmp_path / "a").checkpoint_path
    second = train(tiny_config, band_data, tmp_path / "b").checkpoint_path
    _assert_same_state(_training_state(first), _training_state(second))


def test_resuming_gives_exactly_the_weights_of_an_uninterrupted_run(
    tmp_path: Path, tiny_config: TrainConfig, band_data: torch.Tensor
) -> None:
    straight = train(tiny_config, band_data, tmp_path / "straight")
    half = train(TrainConfig.preset("tiny", steps=3), band_data, tmp_path / "half")
    resumed = train(tiny_config, band_data, tmp_path / "resumed", resume_from=half.checkpoint_path)
    assert resumed.step == 6
    _assert_same_state(
        _training_state(straight.checkpoint_path), _training_state(resumed.checkpoint_path)
    )


def test_should_stop_saves_a_checkpoint_that_resumes(
    tmp_path: Path, tiny_config: TrainConfig, band_data: torch.Tensor
) -> None:
    calls = []

    def stop_after_four_steps() -> bool:
        calls.append(1)
        return len(calls) > 4

    result = train(tiny_config, band_data, tmp_path, should_stop=stop_after_four_steps)
    assert result.cancelled
    assert result.step == 4
    assert result.checkpoint_path == tmp_path / "checkpoint-000004.pt"
    assert load_checkpoint(result.checkpoint_path)["step"] == 4

    resumed = train(tiny_config, band_data, tmp_path, resume_from=result.checkpoint_path)
    assert not resumed.cancelled and resumed.step == 6


def test_resume_refuses_a_different_architecture(
    tmp_path: Path, tiny_config: TrainConfig, band_data: torch.Tensor
) -> None:
    first = train(tiny_config, band_data, tmp_path)
    wider = TrainConfig.preset("tiny", base_channels=16)
    with pytest.raises(CheckpointError, match="base_channels=8 but the config asks for 16"):
        train(wider, band_data, tmp_path, resume_from=first.checkpoint_path)


def test_images_of_the_wrong_size_are_rejected(tmp_path: Path, tiny_config: TrainConfig) -> None:
    with pytest.raises(ValueError, match=r"images must be \[N, 1, 32, 32\]"):
        train(tiny_config, torch.zeros(4, 1, 64, 64), tmp_path)
