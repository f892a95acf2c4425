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
from sklearn.metrics import roc_auc_score
from torch import nn

from ganengine.metrics._pixels import downsample

# Resamples of the test images for the AUC's confidence interval.
BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class C2STResult:
    auc: float  # mean held-out ROC AUC over the folds; 0.5 = indistinguishable
    auc_std: float  # standard deviation over the folds
    # 95 % percentile interval of the mean AUC over stratified resamples of each fold's test
    # images: the uncertainty from which images were tested (not from retraining the network).
    auc_ci: tuple[float, float]
    n_real: int
    n_fake: int
    folds: int
    epochs: int


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve for scores meant to be higher for label 1 than for label 0.

    scikit-learn's, with its input checks turned into ValueErrors that name the problem.
    """
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError("scores and labels must be 1-D arrays of the same length")
    if labels.all() or not labels.any():
        raise ValueError("ROC AUC needs at least one positive and one negative")
    return float(roc_auc_score(labels, scores))


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
    tested = []  # (scores, labels) of each fold's test images
    for k in range(folds):
        test = fold_of == k
        network = _train(x[~test], y[~test], epochs, batch_size, generator, device)
        with torch.inference_mode():
            scores = torch.cat([network(b.to(device)).squeeze(1).cpu() for b in x[test].split(256)])
        tested.append((scores.numpy(), y[test].numpy()))
    aucs = [roc_auc(scores, labels) for scores, labels in tested]
    return C2STResult(
        auc=float(np.mean(aucs)),
        auc_std=float(np.std(aucs)),
        auc_ci=_bootstrap_interval(tested, np.random.default_rng(seed)),
        n_real=len(real),
        n_fake=len(fake),
        folds=folds,
        epochs=epochs,
    )


def _bootstrap_interval(
    tested: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator
) -> tuple[float, float]:
    """95 % interval of the mean fold AUC, resampling each fold's real and fake test images."""
    means = np.empty(BOOTSTRAP_RESAMPLES)
    for i in range(BOOTSTRAP_RESAMPLES):
        aucs = []
        for scores, labels in tested:
            real, fake = scores[labels == 0], scores[labels == 1]
            real = real[rng.integers(len(real), size=len(real))]
            fake = fake[rng.integers(len(fake), size=len(fake))]
            aucs.append(
                roc_auc(
                    np.concatenate([real, fake]), np.r_[np.zeros(len(real)), np.ones(len(fake))]
                )
            )
        means[i] = np.mean(aucs)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


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
