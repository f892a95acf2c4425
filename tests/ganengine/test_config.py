import json
from pathlib import Path

import pytest
import yaml

from ganengine.config import ConfigError
from ganengine.unconditional import PRESETS, UnconditionalConfig


def test_the_documented_presets_exist() -> None:
    assert set(PRESETS) == {"tiny", "cpu-demo", "cpu-128", "gpu-256", "gpu-512"}
    assert PRESETS["cpu-128"].resolution == 128
    assert PRESETS["cpu-demo"].model == "fastgan"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_valid(name: str) -> None:
    PRESETS[name].validate()


def test_preset_applies_overrides_without_changing_the_preset() -> None:
    config = UnconditionalConfig.preset("tiny", steps=7)
    assert config.steps == 7
    assert PRESETS["tiny"].steps != 7


def test_unknown_preset_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValueError, match="cpu-demo"):
        UnconditionalConfig.preset("huge")


def test_dict_round_trip_keeps_every_field() -> None:
    config = UnconditionalConfig.preset("cpu-demo", betas=(0.0, 0.99), augment="cutout")
    assert UnconditionalConfig.from_dict(config.to_dict()) == config


def test_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="Unknown UnconditionalConfig key.*learning_rate"):
        UnconditionalConfig.from_dict({**UnconditionalConfig().to_dict(), "learning_rate": 1.0})


@pytest.mark.parametrize("resolution", [16, 48, 100, 512])
def test_dcgan_resolution_must_be_a_power_of_two_from_32_to_256(resolution: int) -> None:
    with pytest.raises(ValueError, match="power of two from 32 to 256 for dcgan"):
        UnconditionalConfig(resolution=resolution).validate()


@pytest.mark.parametrize("resolution", [32, 96, 1024])
def test_fastgan_resolution_must_be_a_power_of_two_from_64_to_512(resolution: int) -> None:
    with pytest.raises(ValueError, match="power of two from 64 to 512 for fastgan"):
        UnconditionalConfig(model="fastgan", resolution=resolution).validate()


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_config_file_round_trip(tmp_path: Path, suffix: str) -> None:
    config = UnconditionalConfig.preset("gpu-256", betas=(0.0, 0.99), r1_gamma=0.2, compile=False)
    path = tmp_path / f"run{suffix}"
    dump = json.dumps if suffix == ".json" else yaml.safe_dump
    path.write_text(dump(config.to_dict()))
    assert UnconditionalConfig.from_file(path) == config


def test_config_file_may_start_from_a_preset(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("preset: cpu-demo\nsteps: 10\nlr_g: 1e-3  # YAML reads this as a string\n")
    assert UnconditionalConfig.from_file(path) == UnconditionalConfig.preset(
        "cpu-demo", steps=10, lr_g=1e-3
    )


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "run.yaml",
            "steps: 10\nlearning_rate: 1\n",
            "Unknown UnconditionalConfig key.*learning_rate",
        ),
        ("run.json", '{"steps": 10,}', "is not valid json"),
        ("run.yaml", "steps: [1, 2\n", "is not valid yaml"),
        ("run.yaml", "- steps\n- 10\n", "must hold a mapping"),
        ("run.yaml", "", "must hold a mapping"),
        ("run.toml", "steps = 10", "must end in .json, .yaml or .yml"),
        ("run.yaml", "steps: ten\n", "steps must be a positive integer"),
        ("run.yaml", "lr_d: fast\n", "lr_d must be a number"),
        ("run.yaml", "compile: maybe\n", "compile must be true or false"),
        ("run.yaml", "precision: fp8\n", "precision must be one of fp32, bf16"),
        ("run.yaml", "preset: huge\n", "Unknown preset 'huge'"),
    ],
)
def test_bad_config_files_are_named_with_the_reason(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        UnconditionalConfig.from_file(path)
    assert str(path) in str(error.value)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"Cannot read config file {tmp_path / 'gone.yaml'}"):
        UnconditionalConfig.from_file(tmp_path / "gone.yaml")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("model", "stylegan", "model must be"),
        ("steps", 0, "steps must be a positive integer"),
        ("batch_size", 2.5, "batch_size"),
        ("seed", -1, "seed"),
        ("lr_d", 0.0, "lr_d"),
        ("ema_decay", 1.0, "ema_decay"),
        ("augment", "translation,color", "Unknown augmentation.*color"),
        ("r1_gamma", -1.0, "r1_gamma must be zero or positive"),
        ("r1_every", 0, "r1_every must be a positive integer"),
        ("precision", "fp16", "precision must be one of"),
        ("channels_last", 1, "channels_last must be true or false"),
    ],
)
def test_invalid_fields_are_named(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        UnconditionalConfig(**{field: value}).validate()


def test_package_names_load_on_first_use_and_survive_submodule_imports():
    import ganengine
    import ganengine.loop
    import ganengine.unconditional
    import ganengine.unconditional.generation

    # The functions, not the modules of (almost) the same name.
    assert callable(ganengine.train) and ganengine.train is ganengine.loop.train
    generation = ganengine.unconditional.generation
    assert ganengine.unconditional.generate is generation.generate
    assert "train" in dir(ganengine) and "load_folder" in dir(ganengine)
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        ganengine.trian  # noqa: B018
