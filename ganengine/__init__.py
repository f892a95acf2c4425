"""ganengine: a small pure-PyTorch GAN engine for grey (ultrasound) or RGB images.

Independent of Django: the web app calls it from its Celery tasks. Model families (one
subpackage each: ganengine.unconditional, ganengine.cyclegan) are registered in
ganengine.families; ganengine.loop.train trains whichever family it is handed. The names below
load their modules on first use (ganengine._exports), so `import ganengine.families` or
`import ganengine.unconditional.config` does not import torch.
"""

from ganengine._exports import lazy_exports

_EXPORTS = {
    "CheckpointError": "ganengine.checkpoint",
    "ConfigError": "ganengine.config",
    "DataError": "ganengine.data",
    "load_folder": "ganengine.data",
    "prepare_arrays": "ganengine.data",
    "Family": "ganengine.family",
    "Generated": "ganengine.family",
    "train": "ganengine.loop",
    "Progress": "ganengine.progress",
    "TrainResult": "ganengine.progress",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
