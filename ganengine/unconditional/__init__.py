"""The unconditional family: a generator from noise to a grey or RGB image, FastGAN or DCGAN.

FastGAN (Liu et al. 2021, https://arxiv.org/abs/2101.04775) and a DCGAN-style pair, trained with
the hinge loss, DiffAugment, an EMA generator and an optional lazy R1 penalty (steps.py). The
family object is ganengine.unconditional.family.UnconditionalFamily, registered as
"unconditional" in ganengine.families.

Names load their modules on first use, as in ganengine/__init__.py.
"""

from ganengine._exports import lazy_exports

_EXPORTS = {
    "PRESETS": "ganengine.unconditional.config",
    "UnconditionalConfig": "ganengine.unconditional.config",
    "UnconditionalFamily": "ganengine.unconditional.family",
    "export_generator": "ganengine.unconditional.generation",
    "generate": "ganengine.unconditional.generation",
    "image_inputs": "ganengine.unconditional.generation",
    "image_latents": "ganengine.unconditional.generation",
    "load_generator": "ganengine.unconditional.generation",
    "build_models": "ganengine.unconditional.models",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
