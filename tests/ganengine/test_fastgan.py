import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from ganengine import Progress, families, train
from ganengine.unconditional import UnconditionalConfig, build_models, generate
from ganengine.unconditional.steps import bf16_supported
from tests.ganengine.compare import assert_same, saved

UNCONDITIONAL = families.get("unconditional")


@pytest.mark.parametrize("resolution", [64, 128, 256, 512])
def test_fastgan_works_at_every_supported_resolution(resolution: int) -> None:
    config = UnconditionalConfig(
        model="fastgan", resolution=resolution, latent_dim=16, base_channels=2
    )
    generator, discriminator = build_models(config)
    images = generator(torch.randn(2, 16))
    assert images.shape == (2, 1, resolution, resolution)
    assert images.min() >= -1 and images.max() <= 1
    assert discriminator(images).shape == (2,)


def test_discriminator_reconstructs_real_images_from_its_features() -> None:
    config = UnconditionalConfig(model="fastgan", resolution=64, latent_dim=16, base_channels=4)
    _, discriminator = build_models(config)
    x = torch.rand(6, 1, 64, 64) * 2 - 1
    for quadrant in range(4):
        logits, loss = discriminator(x, real_count=2, quadrant=quadrant)
        assert logits.shape == (6,)
        assert loss.ndim == 0 and math.isfinite(loss.item()) and loss.item() > 0
    loss.backward()  # the decoders are trained through this loss
    assert discriminator.decode_part.layers[-2].weight.grad.abs().sum() > 0


def test_fastgan_trains_with_finite_losses(
    tmp_path: Path, fastgan_config: UnconditionalConfig, band_data_64: torch.Tensor
) -> None:
    reports: list[Progress] = []
    result = train(
        UNCONDITIONAL, fastgan_config, band_data_64, tmp_path, on_progress=reports.append
    )
    assert [p.step for p in reports] == [2, 4]
    for report in reports:
        assert set(report.losses) == {"d", "g", "d_real", "d_fake", "rec"}
        assert all(math.isfinite(value) for value in report.losses.values())
    assert reports[-1].samples.shape == (4 * 66 + 2, 4 * 66 + 2)
    assert generate(result.checkpoint_path, 2).shape == (2, 64, 64)


@pytest.mark.parametrize("model", ["dcgan", "fastgan"])
def test_r1_penalty_is_reported_finite_on_its_steps(
    tmp_path: Path, fastgan_config: UnconditionalConfig, request: pytest.FixtureRequest, model: str
) -> None:
    base = fastgan_config if model == "fastgan" else UnconditionalConfig.preset("tiny", steps=4)
    config = dataclasses.replace(base, r1_gamma=1.0, r1_every=2, progress_every=4)
    data = request.getfixturevalue("band_data_64" if model == "fastgan" else "band_data")
    reports: list[Progress] = []
    train(UNCONDITIONAL, config, data, tmp_path, on_progress=reports.append)
    (report,) = reports
    assert report.losses["r1"] > 0 and math.isfinite(report.losses["r1"])
    assert all(math.isfinite(value) for value in report.losses.values())


def test_fastgan_resume_gives_exactly_the_weights_of_an_uninterrupted_run(
    tmp_path: Path, fastgan_config: UnconditionalConfig, band_data_64: torch.Tensor
) -> None:
    config = dataclasses.replace(fastgan_config, steps=6, r1_gamma=0.5, r1_every=4)
    straight = train(UNCONDITIONAL, config, band_data_64, tmp_path / "straight")
    half = train(
        UNCONDITIONAL, dataclasses.replace(config, steps=3), band_data_64, tmp_path / "half"
    )
    resumed = train(
        UNCONDITIONAL, config, band_data_64, tmp_path / "resumed", resume_from=half.checkpoint_path
    )
    assert resumed.step == 6
    assert_same(saved(straight.checkpoint_path), saved(resumed.checkpoint_path))


def test_compile_changes_nothing_on_the_cpu(
    tmp_path: Path, fastgan_config: UnconditionalConfig, band_data_64: torch.Tensor
) -> None:
    compiled = dataclasses.replace(fastgan_config, compile=True)
    plain = train(UNCONDITIONAL, fastgan_config, band_data_64, tmp_path / "plain", device="cpu")
    tuned = train(UNCONDITIONAL, compiled, band_data_64, tmp_path / "tuned", device="cpu")
    plain_state, tuned_state = saved(plain.checkpoint_path), saved(tuned.checkpoint_path)
    assert json.loads(plain_state.pop("config")) != json.loads(tuned_state.pop("config"))
    assert_same(plain_state, tuned_state)


def test_channels_last_applies_on_the_cpu(fastgan_config: UnconditionalConfig) -> None:
    from ganengine.loop import new_state

    cpu = torch.device("cpu")
    for wanted, layout in ((True, torch.channels_last), (False, torch.contiguous_format)):
        config = dataclasses.replace(fastgan_config, channels_last=wanted)
        state = new_state(UNCONDITIONAL, config, cpu)
        weight = state.generator.to_gray.weight  # [1, C, 3, 3]: NCHW and NHWC strides differ
        assert weight.is_contiguous(memory_format=layout)


@pytest.mark.skipif(
    not bf16_supported(torch.device("cpu")), reason="this CPU has no native bf16 arithmetic"
)
def test_bf16_on_a_cpu_with_native_bf16_trains_in_bf16_and_resumes_exactly(
    tmp_path: Path, fastgan_config: UnconditionalConfig, band_data_64: torch.Tensor
) -> None:
    bf16 = dataclasses.replace(fastgan_config, precision="bf16", steps=4)
    plain = saved(
        train(
            UNCONDITIONAL, dataclasses.replace(bf16, precision="fp32"), band_data_64, tmp_path / "a"
        ).checkpoint_path
    )
    straight = train(UNCONDITIONAL, bf16, band_data_64, tmp_path / "b")
    assert all(math.isfinite(value) for value in straight.losses.values())
    weights = saved(straight.checkpoint_path)["generator"]
    # bf16 forward passes round differently: the weights move apart from fp32's.
    assert any(not torch.equal(weights[name], plain["generator"][name]) for name in weights)
    half = train(UNCONDITIONAL, dataclasses.replace(bf16, steps=2), band_data_64, tmp_path / "half")
    resumed = train(
        UNCONDITIONAL, bf16, band_data_64, tmp_path / "resumed", resume_from=half.checkpoint_path
    )
    assert_same(saved(straight.checkpoint_path), saved(resumed.checkpoint_path))
