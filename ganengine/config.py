"""What every family's training configuration shares: ConfigBase (presets, dict and JSON/YAML
file round trips) and the field checks of validate().

Each family's own dataclass lives in its subpackage (ganengine.unconditional.config,
ganengine.cyclegan.config). This module imports no torch: the web app's forms read configs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration file that cannot be read or holds an invalid configuration."""


class ConfigBase:
    """What every model family's config dataclass shares: presets, dict and file round trips.

    A subclass is a dataclass with a `validate()` returning self and a `presets()` classmethod.
    The training loop (ganengine.loop) and the web app read these fields of every family's
    config: resolution (image side), steps (total), batch_size (images per step, for the speed
    report), seed, progress_every, sample_every and checkpoint_every.
    """

    @classmethod
    def presets(cls) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def preset_description(cls, name: str) -> str:
        """What preset `name` trains and how long it takes (preset_label below); "" if unsaid."""
        return ""

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> Any:
        presets = cls.presets()
        if name not in presets:
            raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(presets)}")
        return dataclasses.replace(presets[name], **overrides)

    def to_dict(self) -> dict[str, Any]:
        # JSON has no tuples; from_dict's dataclass turns the lists back.
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        cls._reject_unknown(data)
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> Any:
        """A validated config from a .json, .yaml or .yml file: a mapping of the config's fields.

        An optional `preset: NAME` key starts from that preset; the other keys override it.
        """
        path = Path(path)
        if path.suffix.lower() not in (".json", ".yaml", ".yml"):
            raise ConfigError(f"Config file {path} must end in .json, .yaml or .yml")
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except OSError as exc:
            raise ConfigError(f"Cannot read config file {path}: {exc.strerror or exc}") from exc
        except (ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"Config file {path} is not valid {path.suffix[1:]}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"Config file {path} must hold a mapping of settings")
        data = dict(data)
        try:
            base = cls.preset(str(data.pop("preset"))) if "preset" in data else cls()
            cls._reject_unknown(data)
            return dataclasses.replace(base, **cls._numbers_from_strings(data)).validate()
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"Config file {path}: {exc}") from exc

    @classmethod
    def _reject_unknown(cls, data: dict[str, Any]) -> None:
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"Unknown {cls.__name__} key(s): {', '.join(unknown)}")

    @classmethod
    def _numbers_from_strings(cls, data: dict[str, Any]) -> dict[str, Any]:
        # YAML 1.1 reads "1e-3" (no dot) as a string; accept it for the float fields.
        floats = {f.name for f in dataclasses.fields(cls) if f.type in ("float", float)}
        converted = dict(data)
        for name in floats & converted.keys():
            if isinstance(converted[name], str):
                with contextlib.suppress(ValueError):  # else validate() names the field
                    converted[name] = float(converted[name])
        return converted


def preset_label(network: str, config: Any, time: float | str) -> str:
    """ "FastGAN 128 px, 12,000 steps — about 2.6 h on CPU": `time` is the preset's CPU seconds
    per step (measured; the total follows its steps), or a phrase where there is no figure."""
    if not isinstance(time, str):
        total = config.steps * time
        if total < 60:
            time = "under a minute on CPU"
        elif total < 3600:
            time = f"about {round(total / 60)} min on CPU"
        else:
            time = f"about {round(total / 3600, 1):g} h on CPU"
    return f"{network} {config.resolution} px, {config.steps:,} steps — {time}"


# Field checks shared by every family's validate(): each raises ValueError naming the field.


def require_int(name: str, value: Any, minimum: int = 1) -> None:
    if not (is_int(value) and value >= minimum):
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        raise ValueError(f"{name} must be {kind}, not {value!r}")


def require_betas(betas: Any) -> None:
    if not (
        isinstance(betas, tuple) and len(betas) == 2 and all(is_number(b) for b in betas)
    ) or not all(0 <= b < 1 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1), not {betas!r}")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
