"""Each preset's label names its network, resolution, steps and expected time."""

import re

import pytest

from ganengine import families
from ganengine.config import preset_label
from ganengine.unconditional import PRESETS, UnconditionalConfig

NETWORKS = {"dcgan": "DCGAN", "fastgan": "FastGAN"}


def _network(family: str, config) -> str:
    return NETWORKS[config.model] if family == "unconditional" else "CycleGAN"


@pytest.mark.parametrize("family", ["unconditional", "mask_to_image"])
def test_every_presets_label_names_its_family_resolution_steps_and_time(family: str) -> None:
    presets = families.get(family).presets()
    for name, config in presets.items():
        label = type(config).preset_description(name)
        assert label.startswith(f"{_network(family, config)} {config.resolution} px, "), label
        assert f"{config.steps:,} steps — " in label
        assert re.search(r"— (seconds|under a minute|about [\d.]+ (min|h) on CPU|one GPU)", label)


def test_a_cpu_time_follows_the_steps_and_reads_in_minutes_or_hours() -> None:
    long = UnconditionalConfig.preset("cpu-128", steps=14_400)
    assert preset_label("FastGAN", long, 0.5).endswith("— about 2 h on CPU")
    assert preset_label("FastGAN", PRESETS["cpu-128"], 0.5).endswith("— about 1.7 h on CPU")
    short = UnconditionalConfig.preset("cpu-128", steps=600)
    assert preset_label("FastGAN", short, 0.5) == "FastGAN 128 px, 600 steps — about 5 min on CPU"
    few = UnconditionalConfig.preset("cpu-128", steps=10)
    assert preset_label("FastGAN", few, 0.5).endswith("— under a minute on CPU")
