import pytest

from ganengine import PRESETS, TrainConfig


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_valid(name: str) -> None:
    PRESETS[name].validate()


def test_preset_applies_overrides_without_changing_the_preset() -> None:
    config = TrainConfig.preset("tiny", steps=7)
    assert config.steps == 7
    assert PRESETS["tiny"].steps != 7


def test_unknown_preset_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValueError, match="cpu-demo"):
        TrainConfig.preset("huge")


def test_dict_round_trip_keeps_every_field() -> None:
    config = TrainConfig.preset("cpu-demo", betas=(0.0, 0.99), augment="cutout")
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="Unknown TrainConfig key.*learning_rate"):
        TrainConfig.from_dict({**TrainConfig().to_dict(), "learning_rate": 1.0})


@pytest.mark.parametrize("resolution", [16, 48, 100, 512])
def test_resolution_must_be_a_power_of_two_from_32_to_256(resolution: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        TrainConfig(resolution=resolution).validate()


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
    ],
)
def test_invalid_fields_are_named(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value}).validate()
