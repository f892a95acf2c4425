"""Unpaired mask-to-image GAN: CycleGAN with the histogram discriminator of HM-CycleGAN.

Domain A is label masks (ganengine.masks), domain B is real grayscale images. G: mask -> image
makes each synthetic image together with its mask; F: image -> mask segments real images.
References: Zhu et al. 2017 (CycleGAN, https://arxiv.org/abs/1703.10593); Ihle et al. 2019
(HM-CycleGAN, Nature Machine Intelligence 1:461); Cronin, Finni & Seynnes 2020 (synthetic
musculoskeletal ultrasound, Computer Methods and Programs in Biomedicine 196:105583).

The family object is ganengine.cyclegan.family.MaskToImageFamily, registered as
"mask_to_image" in ganengine.families; ganengine.loop trains it (steps.py holds its step).
Names load their modules on first use, as in ganengine/__init__.py.
"""

from ganengine._exports import lazy_exports

_EXPORTS = {
    "CYCLEGAN_PRESETS": "ganengine.cyclegan.config",
    "CycleGANConfig": "ganengine.cyclegan.config",
    "UnpairedData": "ganengine.cyclegan.data",
    "training_masks": "ganengine.cyclegan.data",
    "MaskToImageFamily": "ganengine.cyclegan.family",
    "generate_pairs": "ganengine.cyclegan.generation",
    "load_cyclegan": "ganengine.cyclegan.generation",
    "IoUResult": "ganengine.cyclegan.segmentation",
    "aponeurosis_iou": "ganengine.cyclegan.segmentation",
    "iou": "ganengine.cyclegan.segmentation",
    "segment": "ganengine.cyclegan.segmentation",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
