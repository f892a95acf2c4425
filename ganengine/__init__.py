"""ganengine: a small pure-PyTorch GAN engine for grayscale (ultrasound) images.

Independent of Django: the web app calls these functions from its Celery tasks.
"""

from ganengine.checkpoint import CheckpointError, load_generator
from ganengine.config import PRESETS, ConfigError, TrainConfig
from ganengine.data import DataError, load_folder, prepare_arrays
from ganengine.generate import generate
from ganengine.progress import Progress, TrainResult
from ganengine.train import train

__all__ = [
    "PRESETS",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "Progress",
    "TrainConfig",
    "TrainResult",
    "generate",
    "load_folder",
    "load_generator",
    "prepare_arrays",
    "train",
]
