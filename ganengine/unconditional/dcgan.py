"""DCGAN-style generator and discriminator for grey or RGB images at any power-of-two resolution.

Both networks work in stages of 2x: the generator grows a 4x4 map to R x R, the discriminator
shrinks R x R to 4x4. Channel width is `base_channels` at full resolution and doubles per halving,
capped at 8 * base_channels. B = batch, L = latent_dim, R = resolution, C(r) = channels at side r.
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganengine.resample import Blur, upsample


def channels(side: int, resolution: int, base_channels: int) -> int:
    return base_channels * min(resolution // side, 8)


def _sides(resolution: int) -> list[int]:
    return [2**k for k in range(2, int(math.log2(resolution)) + 1)]  # 4, 8, ..., R


class Generator(nn.Module):
    def __init__(
        self,
        resolution: int,
        latent_dim: int,
        base_channels: int,
        image_channels: int = 1,
        padding: str = "zeros",
    ) -> None:
        super().__init__()
        c = [channels(s, resolution, base_channels) for s in _sides(resolution)]
        self.stem = nn.Sequential(  # [B, L, 1, 1] -> [B, C(4), 4, 4]
            nn.ConvTranspose2d(latent_dim, c[0], 4, bias=False),
            nn.BatchNorm2d(c[0]),
            nn.ReLU(inplace=True),
        )
        # Bilinear upsampling + 3x3 conv: no strided transposed convs, no nearest-neighbour grid.
        self.blocks = nn.Sequential(  # [B, C(r), r, r] -> [B, C(2r), 2r, 2r], up to side R
            *(
                nn.Sequential(
                    upsample(),
                    nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode=padding, bias=False),
                    nn.BatchNorm2d(c_out),
                    nn.ReLU(inplace=True),
                )
                for c_in, c_out in pairwise(c)
            )
        )
        # [B, C(R), R, R] -> [B, image_channels, R, R]; named to_gray since grey came first,
        # and kept so: the name is in every checkpoint's state_dict.
        self.to_gray = nn.Conv2d(c[-1], image_channels, 3, padding=1, padding_mode=padding)

    def noise_shapes(self) -> list[tuple[int, int, int]]:
        return []  # no noise inputs: all randomness is in the latent

    def forward(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        x = self.stem(z[:, :, None, None])
        x = self.blocks(x)
        return torch.tanh(self.to_gray(x))  # [B, image_channels, R, R] in [-1, 1]


class Discriminator(nn.Module):
    def __init__(self, resolution: int, base_channels: int, image_channels: int = 1) -> None:
        super().__init__()
        c = [channels(s, resolution, base_channels) for s in reversed(_sides(resolution))]
        self.from_gray = nn.Sequential(  # [B, image_channels, R, R] -> [B, C(R), R, R]
            spectral_norm(nn.Conv2d(image_channels, c[0], 3, padding=1)),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.blocks = nn.Sequential(  # [B, C(r), r, r] -> [B, C(r/2), r/2, r/2], down to side 4
            *(
                nn.Sequential(  # blurred first: see ganengine/resample.py
                    Blur(),
                    spectral_norm(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)),
                    nn.LeakyReLU(0.2, inplace=True),
                )
                for c_in, c_out in pairwise(c)
            )
        )
        self.head = spectral_norm(nn.Linear(c[-1] * 4 * 4, 1))  # [B, C(4) * 16] -> [B, 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.from_gray(x))
        return self.head(x.flatten(1)).squeeze(1)  # [B] real-vs-fake logits
