"""The unconditional generator's conv padding: reflect for new runs, zeros for what came before."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ganengine import families
from ganengine.checkpoint import CheckpointError, load_file
from ganengine.images import to_uint8
from ganengine.unconditional import PRESETS, UnconditionalConfig, generate
from ganengine.unconditional.fastgan import Generator as FastGANGenerator
from ganengine.unconditional.generation import image_inputs
from ganengine.unconditional.models import build_discriminator, build_generator
from tests.ganengine.toy import band_images

SHIPPED = Path(__file__).resolve().parents[2] / "pretrained" / "muscle-us-fastgan-128"
UNCONDITIONAL = families.get("unconditional")


def _padded_convs(module: nn.Module) -> set[str]:
    """The padding modes of the module's convs that pad (the 4x4 unpadded SLE convs do not)."""
    return {m.padding_mode for m in module.modules() if isinstance(m, nn.Conv2d) and any(m.padding)}


def test_every_preset_pads_by_reflection_and_a_config_without_the_field_by_zeros() -> None:
    assert {name: preset.padding for name, preset in PRESETS.items()} == dict.fromkeys(
        PRESETS, "reflect"
    )
    written_before = {k: v for k, v in PRESETS["cpu-128"].to_dict().items() if k != "padding"}
    assert UnconditionalConfig.from_dict(written_before).padding == "zeros"
    with pytest.raises(ValueError, match="padding must be one of zeros, reflect, not 'circular'"):
        dataclasses.replace(PRESETS["tiny"], padding="circular").validate()


@pytest.mark.parametrize("model", ["dcgan", "fastgan"])
@pytest.mark.parametrize("padding", ["zeros", "reflect"])
def test_the_generators_convs_take_the_configs_padding_and_the_discriminators_keep_zeros(
    model: str, padding: str
) -> None:
    config = PRESETS["tiny"] if model == "dcgan" else PRESETS["cpu-demo"]
    config = dataclasses.replace(config, padding=padding)
    generator = build_generator(config)
    assert _padded_convs(generator) == {padding}
    assert _padded_convs(build_discriminator(config)) == {"zeros"}
    # The mode changes no weight: a checkpoint's tensors fit either.
    other = build_generator(dataclasses.replace(config, padding="zeros"))
    assert {k: v.shape for k, v in generator.state_dict().items()} == {
        k: v.shape for k, v in other.state_dict().items()
    }


def test_the_shipped_generator_has_no_padding_field_and_generates_as_with_zero_padding() -> None:
    path = SHIPPED / "generator.pt"
    saved = load_file(path)
    assert "padding" not in json.loads(saved["config"])
    config = UnconditionalConfig.from_dict(json.loads(saved["config"]))
    weights = {k: v.float() for k, v in saved["generator_ema"].items()}

    def by_hand(padding: str) -> np.ndarray:
        """Seeds 5..10 through a FastGAN generator built here with `padding` and the weights."""
        network = FastGANGenerator(
            config.resolution, config.latent_dim, config.base_channels, padding=padding
        )
        network.load_state_dict(weights)
        z, noise = image_inputs(range(5, 11), config.latent_dim, network.noise_shapes())
        with torch.inference_mode():
            return to_uint8(network.eval()(z, noise))

    generated = generate(path, 6, seed=5, device="cpu")
    assert np.array_equal(generated, by_hand("zeros"))
    # Not vacuous: the same weights with reflection change the borders.
    reflected = by_hand("reflect")
    assert not np.array_equal(generated[:, 0], reflected[:, 0])


def test_a_run_cannot_resume_with_another_padding(tmp_path: Path) -> None:
    config = dataclasses.replace(PRESETS["tiny"], steps=1, padding="zeros")
    images = band_images(8)
    first = UNCONDITIONAL.train(config, images, tmp_path)
    reflect = dataclasses.replace(config, steps=2, padding="reflect")
    with pytest.raises(CheckpointError, match="has padding='zeros' but the config asks for"):
        UNCONDITIONAL.train(reflect, images, tmp_path, resume_from=first.checkpoint_path)
