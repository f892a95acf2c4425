"""Unpaired mask-to-image GAN: CycleGAN with the histogram discriminator of HM-CycleGAN.

Domain A is label masks (ganengine.masks), domain B is real grayscale images. G: mask -> image
makes each synthetic image together with its mask; F: image -> mask segments real images.
References: Zhu et al. 2017 (CycleGAN, https://arxiv.org/abs/1703.10593); Ihle et al. 2019
(HM-CycleGAN, Nature Machine Intelligence 1:461); Cronin, Finni & Seynnes 2020 (synthetic
musculoskeletal ultrasound, Computer Methods and Programs in Biomedicine 196:105583).
"""

from ganengine.cyclegan.config import CYCLEGAN_PRESETS, CycleGANConfig
from ganengine.cyclegan.generate import generate_pairs, load_cyclegan
from ganengine.cyclegan.segment import IoUResult, aponeurosis_iou, iou, segment
from ganengine.cyclegan.train import load_cyclegan_checkpoint, train_cyclegan

__all__ = [
    "CYCLEGAN_PRESETS",
    "CycleGANConfig",
    "IoUResult",
    "aponeurosis_iou",
    "generate_pairs",
    "iou",
    "load_cyclegan",
    "load_cyclegan_checkpoint",
    "segment",
    "train_cyclegan",
]
