"""Resampling layers that do not print a grid into generated images.

A generator that upsamples with nearest neighbours or strided transposed convolutions leaves a
periodic pattern at the upsampling periods (Odena, Dumoulin & Olah 2016, "Deconvolution and
checkerboard artifacts"); a discriminator that downsamples with bare strided convolutions
aliases exactly those frequencies, so it never learns to object to them (Zhang 2019, "Making
convolutional networks shift-invariant again"; StyleGAN2 blurs before every strided layer for the
same reason). FastGAN's cpu-demo after 1,500 steps at 64 px (benchmarks/bench_artefacts.py,
spectral power on the period-p line over its neighbours', p = 2 / 4 / 8): 0.73 / 1.91 / 1.80
with nearest upsampling and bare strided convs, 1.14 / 1.04 / 0.89 with these layers; the real
images 0.96 / 0.99 / 0.93.

Both layers here are parameter-free, so they add nothing to a checkpoint's state_dict.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Binomial [1, 2, 1] / 4 in each direction: the smallest low-pass filter that removes the
# Nyquist frequency of a 2x downsampling completely.
_BINOMIAL = torch.tensor([1.0, 2.0, 1.0]) / 4


class Blur(nn.Module):
    """[B, C, H, W] -> [B, C, H, W]: a 3 x 3 binomial low-pass per channel, edges replicated."""

    def __init__(self) -> None:
        super().__init__()
        # Not persistent: a fixed filter is not part of what a checkpoint holds.
        self.register_buffer("kernel", torch.outer(_BINOMIAL, _BINOMIAL)[None, None], False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        kernel = self.kernel.to(x.dtype).expand(channels, 1, 3, 3)
        # Edges replicated by concatenation: torch.compile's inductor mis-strides the backward
        # of F.pad(mode="replicate") (an assertion in replication_pad2d_backward, torch 2.14).
        x = torch.cat([x[..., :1, :], x, x[..., -1:, :]], dim=-2)
        x = torch.cat([x[..., :1], x, x[..., -1:]], dim=-1)
        return F.conv2d(x, kernel, groups=channels)


def upsample() -> nn.Module:
    """2x upsampling by bilinear interpolation: no block pattern for the next conv to undo."""
    return nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
