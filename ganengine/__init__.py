"""ganengine: a small pure-PyTorch GAN engine for grayscale (ultrasound) images.

Independent of Django: the web app calls these functions from its Celery tasks. The names below
load their modules on first use (ganengine._exports), so `import ganengine.config` does not
import torch.
"""

from ganengine._exports import lazy_exports

_EXPORTS = {
    "CheckpointError": "ganengine.checkpoint",
    "load_generator": "ganengine.checkpoint",
    "PRESETS": "ganengine.config",
    "ConfigError": "ganengine.config",
    "TrainConfig": "ganengine.config",
    "DataError": "ganengine.data",
    "load_folder": "ganengine.data",
    "prepare_arrays": "ganengine.data",
    "generate": "ganengine.generation",
    "Progress": "ganengine.progress",
    "TrainResult": "ganengine.progress",
    "train": "ganengine.training",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
