"""CycleGAN networks for one-channel images: ResNet generator, 70x70 PatchGAN, histogram MLP."""

from __future__ import annotations

import torch
from torch import nn

from ganengine.cyclegan.config import CycleGANConfig
from ganengine.resample import Blur, upsample


class ResnetGenerator(nn.Module):
    """Johnson et al. 2016 as in CycleGAN: c7s1-k, d2k, d4k, n x R4k, u2k, uk, c7s1-1, tanh.

    [B, 1, R, R] in [-1, 1] -> [B, 1, R, R] in [-1, 1]; instance norm, reflection padding.
    The two up-steps are bilinear upsampling + 3x3 conv instead of the paper's 3x3 stride-2
    transposed convs, whose uneven kernel overlap printed a 2- and 4-pixel checkerboard into
    every generated image (ganengine/resample.py).
    """

    def __init__(self, channels: int, n_blocks: int) -> None:
        super().__init__()
        k = channels
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), *_conv_norm_relu(1, k, 7, 1, 0)]
        for c in (k, 2 * k):  # [B, k, R, R] -> [B, 4k, R/4, R/4]
            layers += _conv_norm_relu(c, 2 * c, 3, 2, 1)
        layers += [ResnetBlock(4 * k) for _ in range(n_blocks)]
        for c in (4 * k, 2 * k):  # back to [B, k, R, R]
            layers += _up_step(c, c // 2)
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(k, 1, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ResnetBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            *_conv_norm_relu(channels, channels, 3, 1, 0),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=False),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN (C64-C128-C256-C512, 4x4 kernels): [B, 1, R, R] -> [B, 1, R/8 - 2, R/8 - 2].

    Each output judges one 70x70 receptive field; LSGAN targets 1 (real) and 0 (fake).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        k = channels
        self.net = nn.Sequential(
            Blur(),  # blurred before every strided conv: see ganengine/resample.py
            nn.Conv2d(1, k, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
            *_conv_norm_lrelu(k, 2 * k, stride=2),
            *_conv_norm_lrelu(2 * k, 4 * k, stride=2),
            *_conv_norm_lrelu(4 * k, 8 * k, stride=1),
            nn.Conv2d(8 * k, 1, 4, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class HistogramDiscriminator(nn.Module):
    """HM-CycleGAN's histogram critic: sorted intensities of each image -> one realness score.

    [B, 1, R, R] -> sorted pixel values subsampled to `bins` quantiles [B, bins] -> MLP -> [B].
    The sort is differentiable, so G learns to match the intensity distribution of the target
    domain (image brightness profile; label proportions for masks) that a PatchGAN cannot see.
    """

    def __init__(self, bins: int, hidden: int = 64) -> None:
        super().__init__()
        self.bins = bins
        self.mlp = nn.Sequential(
            nn.Linear(bins, hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(sorted_quantiles(x, self.bins)).squeeze(1)


def sorted_quantiles(x: torch.Tensor, bins: int) -> torch.Tensor:
    """[B, 1, H, W] -> [B, bins]: evenly spaced entries of each image's sorted pixel values."""
    values = x.flatten(1).sort(dim=1).values  # [B, H*W]
    index = torch.linspace(0, values.shape[1] - 1, bins, device=x.device).round().long()
    return values[:, index]


def build_networks(config: CycleGANConfig) -> dict[str, nn.Module]:
    """The six networks, keyed as in checkpoints. A = masks, B = images."""
    return {
        "g": ResnetGenerator(config.base_channels_g, config.n_blocks),  # mask -> image
        "f": ResnetGenerator(config.base_channels_g, config.n_blocks),  # image -> mask
        "d_image": PatchDiscriminator(config.base_channels_d),
        "d_mask": PatchDiscriminator(config.base_channels_d),
        "h_image": HistogramDiscriminator(config.hist_bins),
        "h_mask": HistogramDiscriminator(config.hist_bins),
    }


def _conv_norm_relu(c_in: int, c_out: int, kernel: int, stride: int, pad: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, pad, bias=False),
        nn.InstanceNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


def _up_step(c_in: int, c_out: int) -> list[nn.Module]:
    """[B, c_in, s, s] -> [B, c_out, 2s, 2s]: bilinear upsampling, then conv-norm-ReLU."""
    return [upsample(), nn.ReflectionPad2d(1), *_conv_norm_relu(c_in, c_out, 3, 1, 0)]


def _conv_norm_lrelu(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [
        *([Blur()] if stride > 1 else []),
        nn.Conv2d(c_in, c_out, 4, stride, 1, bias=False),
        nn.InstanceNorm2d(c_out),
        nn.LeakyReLU(0.2, inplace=True),
    ]
