"""The mask-to-image family's checkpoint files, read by its family object and its generation.

Checkpoint dict: format "ganengine-cyclegan", version 2, config (JSON of CycleGANConfig), step,
nets {g, f, d_image, d_mask, h_image, h_mask} (state_dicts), opt_g, opt_d, pools {mask, image}
(tensors of earlier fakes), rng {"device_type", "state"}.

Generation reads checkpoints through this kind rather than through MaskToImageFamily, whose
generate() calls generation: so neither module imports the other's. No torch at import.
"""

from __future__ import annotations

from ganengine.cyclegan.config import CycleGANConfig
from ganengine.trainable import CheckpointKind


class CycleGANCheckpoints(CheckpointKind):
    config_class = CycleGANConfig
    checkpoint_format = "ganengine-cyclegan"
    # 2: anti-aliased resampling (ganengine/resample.py), which changes the networks.
    checkpoint_version = 2
    retired_versions = {
        1: "it was written by the networks that printed a grid into their images, before "
        "ganengine's anti-aliased resampling; train the run anew"
    }
    checkpoint_keys = ("nets", "opt_g", "opt_d", "pools")
