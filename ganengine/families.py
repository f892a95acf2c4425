"""The registry of model families: the one place where families are registered.

    from ganengine import families
    family = families.get("unconditional")
    family.train(run_config_dict, images, out_dir, on_progress=..., should_stop=...)
    family.generate(checkpoint, count, seed=first_seed).images

Family.train hands the family itself to ganengine.loop.train: the registry imports the families,
the families import the loop, and the loop asks nobody. Importing this module imports no torch
(see ganengine/family.py), so the web process may list the families, their labels and presets,
and validate configs with it.
"""

from __future__ import annotations

import re
from pathlib import Path

from ganengine.cyclegan.family import MaskToImageFamily
from ganengine.family import Family
from ganengine.unconditional.family import UnconditionalFamily

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_FAMILIES: dict[str, Family] = {}


class UnknownFamily(LookupError):
    """A family name or checkpoint that no registered family claims."""


def register(family: Family) -> Family:
    """Add `family`; its name, config class and checkpoint format must be new."""
    if not _NAME.fullmatch(family.name):
        raise ValueError(f"Family name {family.name!r} must be lower case letters, digits and _")
    for other in _FAMILIES.values():
        for what in ("name", "config_class", "checkpoint_format", "generator_format"):
            if getattr(family, what) is not None and getattr(other, what) == getattr(family, what):
                raise ValueError(f"Family {other.name} already has {what} {getattr(family, what)}")
    _FAMILIES[family.name] = family
    return family


def unregister(name: str) -> None:
    del _FAMILIES[name]


def get(name: str) -> Family:
    try:
        return _FAMILIES[name]
    except KeyError:
        raise UnknownFamily(
            f"Unknown model family {name!r}; registered: {', '.join(_FAMILIES)}"
        ) from None


def names() -> list[str]:
    return list(_FAMILIES)


def all() -> list[Family]:
    return list(_FAMILIES.values())


def of_checkpoint(path: str | Path) -> Family:
    """The family whose checkpoint format the file declares (CheckpointError if unreadable)."""
    from ganengine.checkpoint import CheckpointError, checkpoint_format

    kind = checkpoint_format(path)
    for family in _FAMILIES.values():
        if kind in (family.checkpoint_format, family.generator_format):
            return family
    raise CheckpointError(
        f"Checkpoint {path} is not a ganengine checkpoint: no registered model family writes "
        f"format {kind!r}"
    )


register(UnconditionalFamily())
register(MaskToImageFamily())
