"""The unconditional family's checkpoint files, read by its family object and its generation.

Training checkpoint: format "ganengine-checkpoint", version 2, config (JSON of
UnconditionalConfig), step, generator, discriminator, generator_ema (state_dicts), opt_g, opt_d
(optimizer state_dicts), rng {"device_type", "state"}.

Exported generator (generation.export_generator): format "ganengine-generator", version
GENERATOR_VERSION, config, step and generator_ema alone, in fp16.

Generation reads checkpoints through this kind rather than through UnconditionalFamily, whose
generate() calls generation: so neither module imports the other's. No torch at import.
"""

from __future__ import annotations

from ganengine.trainable import CheckpointKind
from ganengine.unconditional.config import UnconditionalConfig

GENERATOR_VERSION = 1


class UnconditionalCheckpoints(CheckpointKind):
    config_class = UnconditionalConfig
    checkpoint_format = "ganengine-checkpoint"
    # 2: anti-aliased resampling (ganengine/resample.py), which changes the networks.
    checkpoint_version = 2
    retired_versions = {
        1: "it was written by the networks that printed a grid into their images, before "
        "ganengine's anti-aliased resampling; train the run anew"
    }
    checkpoint_keys = ("generator", "discriminator", "generator_ema", "opt_g", "opt_d")
    generator_format = "ganengine-generator"  # generation.export_generator
