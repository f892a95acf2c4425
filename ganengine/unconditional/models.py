"""The unconditional networks: UnconditionalConfig.model names a (generator, discriminator) pair.

Every discriminator maps [B, C, R, R] (C = config.channels) to [B] logits. Those of the models in
SELF_SUPERVISED also take `real_count` and `quadrant` and then return (logits, reconstruction
loss); see fastgan.py.
"""

from __future__ import annotations

import torch
from torch import nn

from ganengine.unconditional import dcgan, fastgan
from ganengine.unconditional.config import UnconditionalConfig

SELF_SUPERVISED = frozenset({"fastgan"})


def build_generator(config: UnconditionalConfig) -> nn.Module:
    """Generator: [B, latent_dim] -> [B, C, R, R] in [-1, 1]."""
    if config.model == "dcgan":
        return dcgan.Generator(
            config.resolution,
            config.latent_dim,
            config.base_channels,
            config.channels,
            config.padding,
        )
    if config.model == "fastgan":
        return fastgan.Generator(
            config.resolution,
            config.latent_dim,
            config.base_channels,
            config.channels,
            config.padding,
        )
    raise ValueError(f"Unknown model {config.model!r}")


def build_discriminator(config: UnconditionalConfig) -> nn.Module:
    """Discriminator: [B, C, R, R] -> [B] logits.

    Its convs keep zero padding whatever config.padding says: a zero frame tells D where the
    image's edge is, so it can see, and object to, a line that G draws along it.
    """
    if config.model == "dcgan":
        return dcgan.Discriminator(config.resolution, config.base_channels, config.channels)
    if config.model == "fastgan":
        return fastgan.Discriminator(config.resolution, config.base_channels, config.channels)
    raise ValueError(f"Unknown model {config.model!r}")


def build_models(config: UnconditionalConfig) -> tuple[nn.Module, nn.Module]:
    """Freshly initialised (G, D), identical for a given config.seed on every device."""
    with torch.random.fork_rng(devices=[]):  # seed the init without touching the caller's RNG
        torch.manual_seed(config.seed)
        return build_generator(config), build_discriminator(config)
