"""FastGAN for grey or RGB images (Liu et al. 2021, https://arxiv.org/abs/2101.04775).

Built to train from a few hundred images:
- the generator's skip-layer excitation (SLE) lets a coarse 4x4..32x32 map gate the channels of
  the 64x64..512x512 map, a cheap long skip that carries global layout to the fine layers;
- the discriminator is also an auto-encoder: small decoders must reconstruct the real image (from
  its 8x8 features) and a random quarter of it (from a quarter of its 16x16 features), so D learns
  features that describe the whole image instead of memorising a few cues.
- per-pixel noise inputs after every up-step (as in the official FastGAN code and StyleGAN),
  each scaled by learned per-channel weights that start at 0: ultrasound speckle is stochastic
  detail that a generator otherwise has to fake from its latent, and without them the samples
  came out as smooth swirls. The noise is an input like the latent (`noise_shapes`), so one
  seed still names one image (generation.image_inputs).

B = batch, L = latent_dim, R = resolution (64..512), C(s) = channels at side s.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganengine.resample import Blur, upsample


def channels(side: int, resolution: int, base_channels: int) -> int:
    return base_channels * min(resolution // side, 16)


def _sides(low: int, high: int) -> list[int]:
    return [2**k for k in range(int(math.log2(low)), int(math.log2(high)) + 1)]


# ---------------------------------------------------------------------------------- generator


class UpBlock(nn.Module):
    """[B, c_in, s, s] -> [B, c_out, 2s, 2s]: bilinear upsampling, then one or two conv-BN-GLUs.

    The paper upsamples with nearest neighbours; that printed a 4- and 8-pixel grid into our
    samples (ganengine/resample.py). `padding` is the convs' padding mode (config.padding).
    """

    def __init__(self, c_in: int, c_out: int, convs: int, padding: str = "zeros") -> None:
        super().__init__()
        layers: list[nn.Module] = [upsample()]
        for i in range(convs):  # GLU halves the channels: conv to 2 * c_out, gate half by half
            layers += [
                nn.Conv2d(
                    c_in if i == 0 else c_out,
                    2 * c_out,
                    3,
                    padding=1,
                    padding_mode=padding,
                    bias=False,
                ),
                nn.BatchNorm2d(2 * c_out),
                nn.GLU(dim=1),
            ]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class SkipExcitation(nn.Module):
    """SLE: per-channel gates in (0, 1) for a big map, computed from a small map of any side."""

    def __init__(self, c_small: int, c_big: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),  # [B, c_small, 4, 4]
            nn.Conv2d(c_small, c_big, 4, bias=False),  # [B, c_big, 1, 1]
            nn.SiLU(),
            nn.Conv2d(c_big, c_big, 1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, small: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
        return big * self.gate(small)


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
        sides = _sides(4, resolution)  # 4, 8, ..., R
        c = {s: channels(s, resolution, base_channels) for s in sides}
        self.stem = nn.Sequential(  # [B, L, 1, 1] -> [B, C(4), 4, 4]
            nn.ConvTranspose2d(latent_dim, 2 * c[4], 4, bias=False),
            nn.BatchNorm2d(2 * c[4]),
            nn.GLU(dim=1),
        )
        # Side s -> 2s; two convolutions at 8, 32, 128, 512 as in the paper, one elsewhere.
        self.ups = nn.ModuleDict(
            {
                str(s): UpBlock(c[s // 2], c[s], 2 if int(math.log2(s)) % 2 else 1, padding)
                for s in sides[1:]
            }
        )
        # SLE from side s / 16 into side s, for every s >= 64: 4 -> 64, 8 -> 128, ...
        self.excite = nn.ModuleDict(
            {str(s): SkipExcitation(c[s // 16], c[s]) for s in sides if s >= 64}
        )
        # [B, C(R), R, R] -> [B, image_channels, R, R]; named to_gray since grey came first,
        # and kept so: the name is in every checkpoint's state_dict.
        self.to_gray = nn.Conv2d(c[resolution], image_channels, 3, padding=1, padding_mode=padding)
        # Per channel of every up-step, as StyleGAN's noise inputs.
        self.noise_strength = nn.ParameterList(
            [nn.Parameter(torch.zeros(1, c[s], 1, 1)) for s in sides[1:]]
        )

    def noise_shapes(self) -> list[tuple[int, int, int]]:
        """The shape of each noise input of one image: [1, s, s] for s = 8, 16, ..., R."""
        return [(1, int(key), int(key)) for key in self.ups]

    def forward(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """[B, L] latents and [B, *noise_shapes()[i]] noise maps (drawn here if not given)."""
        if noise is None:
            noise = [torch.randn(len(z), *shape, device=z.device) for shape in self.noise_shapes()]
        x = self.stem(z[:, :, None, None])
        maps = {4: x}  # side -> feature map, kept for the skip excitations
        for i, (key, up) in enumerate(self.ups.items()):
            side = int(key)
            x = up(x) + self.noise_strength[i] * noise[i]  # [B, C(side), side, side]
            if key in self.excite:
                x = self.excite[key](maps[side // 16], x)
            maps[side] = x
        return torch.tanh(self.to_gray(x))  # [B, image_channels, R, R] in [-1, 1]


# ------------------------------------------------------------------------------ discriminator


def _sn_conv(c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0) -> nn.Module:
    return spectral_norm(nn.Conv2d(c_in, c_out, kernel, stride, padding))


class DownBlock(nn.Module):
    """[B, c_in, s, s] -> [B, c_out, s/2, s/2]: sum of a strided-conv path and a pooled path.

    The strided path is blurred first, so that D sees (and objects to) a generator's grid.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            Blur(),
            _sn_conv(c_in, c_out, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            _sn_conv(c_out, c_out, 3, padding=1),
            nn.LeakyReLU(0.2),
        )
        self.direct = nn.Sequential(nn.AvgPool2d(2), _sn_conv(c_in, c_out, 1), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.direct(x)


class Decoder(nn.Module):
    """[B, c_in, 8, 8] -> [B, c_image, out, out]: the reconstruction head of the discriminator."""

    def __init__(self, c_in: int, width: int, out: int, c_image: int = 1) -> None:
        super().__init__()
        count = int(math.log2(out // 8))  # 8 -> 16 -> ... -> out
        ups = [UpBlock(c_in if i == 0 else width, width, 1) for i in range(count)]
        self.layers = nn.Sequential(*ups, nn.Conv2d(width, c_image, 3, padding=1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Discriminator(nn.Module):
    def __init__(self, resolution: int, base_channels: int, image_channels: int = 1) -> None:
        super().__init__()
        self.resolution = resolution
        sides = _sides(4, resolution // 2)[::-1]  # R/2, R/4, ..., 4
        c = {s: channels(s, resolution, base_channels) for s in sides}
        # [B, image_channels, R, R] -> [B, C(R/2), R/2, R/2]. One conv at full resolution before
        # the blurred stride: blurring the image itself would hide the speckle that D must judge.
        self.from_gray = nn.Sequential(
            _sn_conv(image_channels, c[resolution // 2], 3, padding=1),
            nn.LeakyReLU(0.2),
            Blur(),
            _sn_conv(c[resolution // 2], c[resolution // 2], 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        )
        self.downs = nn.ModuleDict(  # side s -> s/2, down to 4x4
            {str(s // 2): DownBlock(c[s], c[s // 2]) for s in sides[:-1]}
        )
        self.head = _sn_conv(c[4], 1, 4)  # [B, C(4), 4, 4] -> [B, 1, 1, 1]
        # Reconstructions are compared at side `rec` (at most 128, as in the paper).
        self.rec = min(resolution // 2, 128)
        width = 2 * base_channels
        self.decode_whole = Decoder(c[8], width, self.rec, image_channels)
        self.decode_part = Decoder(c[16], width, self.rec, image_channels)

    def forward(
        self, x: torch.Tensor, real_count: int = 0, quadrant: int = 0
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """[B] real-vs-fake logits; with real_count > 0 also the reconstruction loss (a scalar)
        of the first real_count images, whose quarter `quadrant` (0..3, row-major) is decoded."""
        h = self.from_gray(x)
        maps = {}
        for key, down in self.downs.items():
            h = down(h)
            maps[int(key)] = h  # [B, C(s), s, s]
        logits = self.head(h).flatten()  # [B]
        if real_count == 0:
            return logits
        real = x[:real_count]
        row, col = divmod(quadrant, 2)
        half = self.resolution // 2
        part = real[:, :, row * half : (row + 1) * half, col * half : (col + 1) * half]
        part_features = maps[16][:real_count, :, row * 8 : (row + 1) * 8, col * 8 : (col + 1) * 8]
        loss = F.l1_loss(
            self.decode_whole(maps[8][:real_count]), F.adaptive_avg_pool2d(real, self.rec)
        ) + F.l1_loss(self.decode_part(part_features), F.adaptive_avg_pool2d(part, self.rec))
        return logits, loss
