"""DiffAugment for grey or RGB images (Zhao et al. 2020, https://arxiv.org/abs/2006.10738).

Every op is differentiable, so the same random augmentation can be applied to real and generated
images in both the discriminator and the generator update; D never sees un-augmented images, which
is what keeps it from memorising a small data set without leaking the augmentations into G.
Images are [B, C, H, W] in [-1, 1], C = 1 or 3; -1 is black, the background of ultrasound images,
so padding and cut-out regions are filled with black rather than mid-grey. Brightness and contrast
move every channel of an image by the same amount, so they keep its hues; DiffAugment's saturation
op is left out (it is a no-op on grey images, and we have not measured it on colour ones).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BLACK = -1.0


def diff_augment(x: torch.Tensor, ops: list[str], generator: torch.Generator) -> torch.Tensor:
    for op in ops:
        x = _OPS[op](x, generator)
    return x


def _rand(x: torch.Tensor, generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(x.shape[0], *shape, device=x.device, generator=generator, dtype=x.dtype)


def brightness(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return x + (_rand(x, generator, 1, 1, 1) - 0.5)  # shift by up to a quarter of the range


def contrast(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, generator, 1, 1, 1) + 0.5) + mean  # scale by 0.5..1.5


def translation(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    b, c, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # Integer shifts in [-s, s] per image, applied with one gather from a black-padded copy.
    dy = (_rand(x, generator, 1, 1) * (2 * sy + 1)).long() - sy  # [B, 1, 1]
    dx = (_rand(x, generator, 1, 1) * (2 * sx + 1)).long() - sx
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    rows = (rows + dy + sy).expand(b, h, w)  # index into the padded image
    cols = (cols + dx + sx).expand(b, h, w)
    padded = F.pad(x, (sx, sx, sy, sy), value=BLACK)  # [B, C, H + 2sy, W + 2sx]
    flat = padded.flatten(2)  # [B, C, (H + 2sy) * (W + 2sx)]
    index = (rows * (w + 2 * sx) + cols).flatten(1).unsqueeze(1)  # [B, 1, H * W]
    return flat.gather(2, index.expand(b, c, h * w)).view(b, c, h, w)  # one shift for all channels


def cutout(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # Top-left corner of a ch x cw black square, which may hang over the edge as in DiffAugment.
    top = (_rand(x, generator, 1, 1) * (h + 1 - ch % 2)).long() - ch // 2  # [B, 1, 1]
    left = (_rand(x, generator, 1, 1) * (w + 1 - cw % 2)).long() - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)  # [B, H, W]
    return torch.where(inside.unsqueeze(1), torch.full_like(x, BLACK), x)


_OPS = {
    "brightness": brightness,
    "contrast": contrast,
    "translation": translation,
    "cutout": cutout,
}
