"""Classifier two-sample test: the machine's own Turing test (Lopez-Paz & Oquab 2017).

A small CNN learns to tell real from generated images; its ROC AUC on images it was not trained
on is 0.5 when it cannot tell them apart and 1.0 when it always can. Stratified k-fold: every
image is scored once, by the network trained on the other folds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganengine.metrics._pixels import downsample


@dataclass(frozen=True)
class C2STResult:
    auc: float  # mean held-out ROC AUC over the folds; 0.5 = indistinguishable
    auc_std: float  # standard deviation over the folds
    n_real: int
    n_fake: int
    folds: int
    epochs: int


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve for scores meant to be higher for label 1 than for label 0.

    The Mann-Whitney U statistic over n_1 n_0: the chance that a random positive outscores a
    random negative, ties counting one half (average ranks).
    """
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError("scores and labels must be 1-D arrays of the same length")
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs at least one positive and one negative")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    # The tied scores at unique position k share ranks first+1 .. first+count; take their mean.
    average_rank = np.cumsum(counts) - (counts - 1) / 2
    rank_sum = average_rank[inverse][labels].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classifier_two_sample_test(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    folds: int = 5,
    epochs: int = 10,
    seed: int = 0,
    resolution: int = 64,
    batch_size: int = 32,
    device: str | torch.device | None = None,
) -> C2STResult:
    """Held-out ROC AUC of a CNN separating uint8 [N, H, W] real from [M, H, W] fake images.

    Images larger than `resolution` are downsampled (area average) to keep the test fast;
    both sets must have the same size so that size alone tells nothing. Deterministic for a
    seed on the CPU.
    """
    for name, images in (("real", real), ("fake", fake)):
        if images.dtype != np.uint8 or images.ndim != 3:
            raise ValueError(
                f"{name} images must be uint8 [N, H, W], got {images.dtype} {images.shape}"
            )
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(f"Image sizes differ: real {real.shape[1:]}, fake {fake.shape[1:]}")
    if folds < 2 or epochs < 1:
        raise ValueError(f"folds must be at least 2 and epochs at least 1, got {folds}, {epochs}")
    if min(len(real), len(fake)) < folds:
        raise ValueError(
            f"{folds}-fold C2ST needs at least {folds} images of each kind, "
            f"got {len(real)} real and {len(fake)} fake"
        )
    device = torch.device(device or "cpu")
    x = _prepare(np.concatenate([real, fake]), resolution)
    y = torch.cat([torch.zeros(len(real)), torch.ones(len(fake))])
    generator = torch.Generator().manual_seed(seed)
    fold_of = torch.empty(len(y), dtype=torch.long)
    for label_indices in (torch.arange(len(real)), torch.arange(len(real), len(y))):
        shuffled = label_indices[torch.randperm(len(label_indices), generator=generator)]
        fold_of[shuffled] = torch.arange(len(shuffled)) % folds  # stratified
    aucs = []
    for k in range(folds):
        test = fold_of == k
        network = _train(x[~test], y[~test], epochs, batch_size, generator, device)
        with torch.inference_mode():
            scores = torch.cat([network(b.to(device)).squeeze(1).cpu() for b in x[test].split(256)])
        aucs.append(roc_auc(scores.numpy(), y[test].numpy()))
    return C2STResult(
        auc=float(np.mean(aucs)),
        auc_std=float(np.std(aucs)),
        n_real=len(real),
        n_fake=len(fake),
        folds=folds,
        epochs=epochs,
    )


def _prepare(images: np.ndarray, resolution: int) -> torch.Tensor:
    x = torch.from_numpy(images).float().unsqueeze(1) / 127.5 - 1  # [N, 1, H, W] in [-1, 1]
    return downsample(x, resolution)


def _classifier() -> nn.Sequential:
    # Four stride-2 convolutions and a global average: small enough to train in seconds on a CPU.
    layers: list[nn.Module] = []
    channels = [1, 16, 32, 64, 64]
    for c_in, c_out in zip(channels, channels[1:], strict=False):
        layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 1))


def _train(
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    device: torch.device,
) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
        network = _classifier().to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=2e-3)
    # Weight the classes equally, so an imbalanced split does not teach "always say the majority".
    pos_weight = ((y == 0).sum() / (y == 1).sum()).to(device)
    network.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(y), generator=generator).split(batch_size):
            logits = network(x[batch].to(device)).squeeze(1)
            loss = F.binary_cross_entropy_with_logits(
                logits, y[batch].to(device), pos_weight=pos_weight
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return network.eval()
