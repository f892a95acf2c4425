"""ganengine.loop: one training loop for every family, built in or registered from outside."""

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ganengine import CheckpointError, families, train
from ganengine.checkpoint import save_checkpoint
from ganengine.family import Family
from ganengine.loop import LATEST, advance, new_state
from ganengine.unconditional import PRESETS
from tests.ganengine.compare import assert_same, saved
from tests.ganengine.toy import band_images
from tests.ganengine.toy_family import ToyConfig, ToyFamily

# Reports at steps 2, 3 (samples), 4 and 6 (samples, the end); checkpoints at 4 and 6.
SCHEDULE = {"steps": 6, "progress_every": 2, "sample_every": 3, "checkpoint_every": 4}
# An architecture field of each family and another value for it.
OTHER_ARCHITECTURE = {
    "unconditional": ("base_channels", 16),
    "mask_to_image": ("base_channels_g", 16),
    "toy_mean": ("resolution", 8),
}


@pytest.fixture(params=["unconditional", "mask_to_image", "toy_mean"])
def family(request: pytest.FixtureRequest) -> Family:
    if request.param == "toy_mean":
        return request.getfixturevalue("toy_family")
    return families.get(request.param)


@pytest.fixture
def config(family: Family):
    return family.preset("tiny", **SCHEDULE)


@pytest.fixture
def images(config) -> torch.Tensor:
    return band_images(16, resolution=config.resolution)


@pytest.fixture
def straight(family: Family, config, images: torch.Tensor, tmp_path: Path) -> dict:
    """The final checkpoint of an uninterrupted run of `config`."""
    return saved(family.train(config, images, tmp_path / "straight").checkpoint_path)


def test_every_family_trains_with_finite_losses_and_reports_progress(
    family: Family, config, images: torch.Tensor, tmp_path: Path
) -> None:
    reports = []
    result = family.train(config, images, tmp_path, on_progress=reports.append)

    assert [p.step for p in reports] == [2, 3, 4, 6]
    assert all(p.total_steps == 6 and p.images_per_second > 0 for p in reports)
    assert reports[-1].eta_seconds == 0
    assert all(p.losses and all(math.isfinite(v) for v in p.losses.values()) for p in reports)
    assert [p.step for p in reports if p.samples is not None] == [3, 6]
    assert reports[-1].samples.dtype == np.uint8 and reports[-1].samples.ndim == 2
    assert result.losses == reports[-1].losses
    assert (result.step, result.cancelled) == (6, False)


def test_checkpoints_are_the_latest_every_interval_and_one_named_by_its_step_at_the_end(
    family: Family, config, images: torch.Tensor, tmp_path: Path
) -> None:
    stored = []

    def on_checkpoint(path: Path, step: int) -> None:  # the file is complete when it is called
        stored.append((path.name, step, family.load_checkpoint(path)["step"]))

    result = family.train(config, images, tmp_path, on_checkpoint=on_checkpoint)

    assert stored == [(LATEST, 4, 4), ("checkpoint-000006.pt", 6, 6)]
    assert result.checkpoint_path == tmp_path / "checkpoint-000006.pt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-000006.pt", LATEST]
    assert_same(saved(tmp_path / LATEST), saved(result.checkpoint_path))


def test_resuming_half_way_gives_exactly_the_checkpoint_of_an_uninterrupted_run(
    family: Family, config, images: torch.Tensor, tmp_path: Path, straight: dict
) -> None:
    half = family.train(dataclasses.replace(config, steps=3), images, tmp_path / "half")
    resumed = family.train(config, images, tmp_path / "resumed", resume_from=half.checkpoint_path)
    assert resumed.step == 6
    assert_same(saved(resumed.checkpoint_path), straight)


def test_should_stop_is_asked_before_every_step_and_a_stopped_run_resumes_exactly(
    family: Family, config, images: torch.Tensor, tmp_path: Path, straight: dict
) -> None:
    asked = []

    def stop_after_four_steps() -> bool:
        asked.append(True)
        return len(asked) > 4

    stopped = family.train(config, images, tmp_path, should_stop=stop_after_four_steps)
    assert stopped.cancelled and stopped.step == 4 and len(asked) == 5
    assert stopped.checkpoint_path == tmp_path / "checkpoint-000004.pt"
    assert family.load_checkpoint(stopped.checkpoint_path)["step"] == 4

    resumed = family.train(config, images, tmp_path, resume_from=stopped.checkpoint_path)
    assert not resumed.cancelled and resumed.step == 6
    assert_same(saved(resumed.checkpoint_path), straight)


def test_resuming_with_another_architecture_is_refused_naming_the_field(
    family: Family, config, images: torch.Tensor, tmp_path: Path
) -> None:
    first = family.train(dataclasses.replace(config, steps=1), images, tmp_path)
    field, value = OTHER_ARCHITECTURE[family.name]
    other = dataclasses.replace(config, **{field: value})
    with pytest.raises(
        CheckpointError, match=f"has {field}={getattr(config, field)!r} but the config asks for"
    ):
        r = other.resolution
        family.train(other, torch.zeros(4, 1, r, r), tmp_path, resume_from=first.checkpoint_path)


def test_a_checkpoint_from_another_device_type_continues_on_a_stream_of_seed_plus_step(
    family: Family, config, images: torch.Tensor, tmp_path: Path, straight: dict
) -> None:
    half = saved(
        family.train(dataclasses.replace(config, steps=3), images, tmp_path).checkpoint_path
    )

    def resume_with(rng: dict) -> dict:
        path = tmp_path / f"half-{rng['device_type']}.pt"
        kind = {"format": family.checkpoint_format, "version": family.checkpoint_version}
        save_checkpoint({**half, "rng": rng}, path, **kind)
        out = tmp_path / rng["device_type"]
        return saved(family.train(config, images, out, resume_from=path).checkpoint_path)

    # A CUDA generator's state means nothing to a CPU generator: the loop must not use it.
    from_cuda = resume_with({"device_type": "cuda", "state": torch.zeros(16, dtype=torch.uint8)})
    reseeded = torch.Generator().manual_seed(config.seed + 3).get_state()
    assert_same(from_cuda, resume_with({"device_type": "cpu", "state": reseeded}))
    with pytest.raises(AssertionError):  # a new stream: not the uninterrupted run's
        assert_same(from_cuda, straight)


def test_only_the_loop_moves_the_step_counter(family: Family, config, images: torch.Tensor) -> None:
    device = torch.device("cpu")
    data = family.prepare(family.training_data(images, config), config, device)
    state = new_state(family, config, device)
    family.step(state, data, config)
    assert state.step == 0
    advance(family, state, data, config)
    assert state.step == 1


def test_a_checkpoint_of_another_family_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    mask_to_image = families.get("mask_to_image")
    with pytest.raises(CheckpointError, match="not a checkpoint of kind ganengine-cyclegan"):
        mask_to_image.train(
            mask_to_image.preset("tiny", steps=1), band_images(4), tmp_path, resume_from=checkpoint
        )


def test_checkpoints_keep_the_layouts_that_existing_runs_resume_from(
    checkpoint: Path, tmp_path: Path
) -> None:
    unconditional = saved(checkpoint)
    assert set(unconditional) == {
        *("format", "version", "config", "step", "rng"),
        *("generator", "discriminator", "generator_ema", "opt_g", "opt_d"),
    }
    assert (unconditional["format"], unconditional["version"]) == ("ganengine-checkpoint", 2)
    assert json.loads(unconditional["config"]) == PRESETS["tiny"].to_dict()
    assert set(unconditional["rng"]) == {"device_type", "state"}

    mask_to_image = families.get("mask_to_image")
    config = mask_to_image.preset("tiny", steps=1)
    cyclegan = saved(mask_to_image.train(config, band_images(4), tmp_path).checkpoint_path)
    assert set(cyclegan) == {
        *("format", "version", "config", "step", "rng"),
        *("nets", "opt_g", "opt_d", "pools"),
    }
    assert (cyclegan["format"], cyclegan["version"]) == ("ganengine-cyclegan", 2)
    assert set(cyclegan["nets"]) == {"g", "f", "d_image", "d_mask", "h_image", "h_mask"}
    assert set(cyclegan["pools"]) == {"mask", "image"}
    assert set(cyclegan["rng"]) == {"device_type", "state"}


def test_train_runs_the_family_it_is_handed_and_refuses_another_familys_config(
    tmp_path: Path,
) -> None:
    unregistered = ToyFamily()  # the loop looks nothing up in the registry
    result = train(unregistered, ToyConfig(), band_images(8, resolution=16), tmp_path / "toy")
    assert unregistered.load_checkpoint(result.checkpoint_path)["mean"].shape == (1, 16, 16)

    with pytest.raises(ValueError, match="UnconditionalConfig is not a config of family toy_mean"):
        train(unregistered, PRESETS["tiny"], band_images(8, resolution=32), tmp_path / "other")


def test_a_family_whose_state_dict_lacks_a_checkpoint_key_fails_at_its_first_checkpoint(
    tmp_path: Path,
) -> None:
    class Forgetful(ToyFamily):
        def state_dict(self, state) -> dict:
            return {}

    with pytest.raises(RuntimeError, match="checkpoint_keys"):
        Forgetful().train(ToyConfig(), band_images(8, resolution=16), tmp_path)
    assert not list(tmp_path.iterdir())
