"""ganengine.families: the registry the web app asks, and what each family answers."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ganengine import CheckpointError, families
from ganengine.cyclegan import CYCLEGAN_PRESETS, CycleGANConfig
from ganengine.families import UnknownFamily
from ganengine.masks import generate_masks
from ganengine.unconditional import PRESETS, UnconditionalConfig
from tests.ganengine.toy import band_images
from tests.ganengine.toy_family import ToyConfig, ToyFamily

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mask_to_image_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    family = families.get("mask_to_image")
    out = tmp_path_factory.mktemp("mask_to_image")
    return family.train(family.preset("tiny", steps=1), band_images(4), out).checkpoint_path


def test_the_built_in_families_are_registered_under_the_names_runs_store() -> None:
    assert families.names() == ["unconditional", "mask_to_image"]
    assert [family.name for family in families.all()] == families.names()
    unconditional, mask_to_image = families.all()
    assert unconditional.config_class is UnconditionalConfig
    assert mask_to_image.config_class is CycleGANConfig
    assert unconditional.presets() == PRESETS and mask_to_image.presets() == CYCLEGAN_PRESETS
    assert unconditional.label != mask_to_image.label


def test_an_unknown_family_is_refused_naming_the_registered_ones() -> None:
    with pytest.raises(UnknownFamily, match="'stylegan'; registered: unconditional, mask_to_image"):
        families.get("stylegan")


def test_a_family_is_registered_once_by_name_config_class_and_checkpoint_format(
    toy_family: ToyFamily,
) -> None:
    assert families.get("toy_mean") is toy_family and "toy_mean" in families.names()

    @dataclasses.dataclass
    class OtherConfig(ToyConfig):
        pass

    class SameName(ToyFamily):
        config_class = OtherConfig
        checkpoint_format = "other"

    class SameConfig(ToyFamily):
        name = "toy_other"
        checkpoint_format = "other"

    class SameFormat(ToyFamily):
        name = "toy_other"
        config_class = OtherConfig

    class BadName(ToyFamily):
        name = "toy:mean"  # the admin's choices are "family:preset"
        config_class = OtherConfig
        checkpoint_format = "other"

    for twin, message in [
        (SameName, "already has name toy_mean"),
        (SameConfig, "already has config_class"),
        (SameFormat, "already has checkpoint_format toy-mean"),
        (BadName, "must be lower case letters"),
    ]:
        with pytest.raises(ValueError, match=message):
            families.register(twin())
    assert families.names() == ["unconditional", "mask_to_image", "toy_mean"]


def test_a_family_validates_the_config_dicts_the_web_app_stores() -> None:
    family = families.get("unconditional")
    stored = json.loads(json.dumps(family.preset("tiny", steps=7).to_dict()))
    assert family.config(stored) == UnconditionalConfig.preset("tiny", steps=7)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        family.config({**stored, "steps": 0})
    with pytest.raises(ValueError, match="Unknown UnconditionalConfig key"):
        family.config({**stored, "lr": 0.1})
    with pytest.raises(ValueError, match="not a config of family unconditional"):
        family.config(CycleGANConfig())
    with pytest.raises(ValueError, match="Unknown preset 'huge'"):
        family.preset("huge")


def test_each_checkpoint_is_claimed_by_its_own_family(
    checkpoint: Path, mask_to_image_checkpoint: Path, tmp_path: Path
) -> None:
    assert families.of_checkpoint(checkpoint).name == "unconditional"
    assert families.of_checkpoint(mask_to_image_checkpoint).name == "mask_to_image"
    foreign = tmp_path / "foreign.pt"
    torch.save({"format": "someone-else", "weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="foreign.pt is not a ganengine checkpoint"):
        families.of_checkpoint(foreign)


def test_generate_gives_the_images_of_the_seeds_and_masks_only_where_images_have_them(
    checkpoint: Path, mask_to_image_checkpoint: Path
) -> None:
    unconditional = families.get("unconditional")
    plain = unconditional.generate(checkpoint, 3, seed=5)
    assert plain.masks is None
    assert plain.images.shape == (3, 32, 32) and plain.images.dtype == np.uint8
    assert np.array_equal(plain.images[1], unconditional.generate(checkpoint, 1, seed=6).images[0])

    paired = families.get("mask_to_image").generate(mask_to_image_checkpoint, 3, seed=5)
    assert paired.images.shape == paired.masks.shape == (3, 32, 32)
    assert np.array_equal(paired.masks, generate_masks(3, 32, seed=5))


def test_the_registry_presets_and_configs_load_without_torch() -> None:
    # A fresh interpreter: this test session has long since imported torch.
    script = (
        "import sys, ganengine, ganengine.families as families\n"
        "for family in families.all():\n"
        "    family.config(family.preset('tiny').to_dict()), family.label, family.presets()\n"
        "ganengine.Family, ganengine.Generated\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'scipy') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip() == "[]"
