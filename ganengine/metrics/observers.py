"""The classifier two-sample test's observers: classifiers trained from scratch on each fold.

Each observer turns the images into its own input once (`inputs`), then, for every fold, learns
real (label 0) from generated (label 1) on the training images and scores the test images
(`fit_score`, higher = more likely generated). None uses pretrained features: a network trained
on ImageNet judges what ImageNet taught it to see, and a generator can match those features
without matching the images (Kynkäänniemi et al. 2023, "The role of ImageNet classes in Fréchet
Inception Distance").

- `CNNObserver`: four convolution blocks, trained with early stopping on a validation part of
  the training folds; it sees texture, shape, borders and artefacts.
- `SpectrumObserver`: standardised logistic regression on the log radial power spectrum; it sees
  blur, missing or invented high frequencies and periodic artefacts with few parameters, where a
  small image set leaves a CNN short of examples.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from ganengine.metrics._pixels import channels_first, downsample
from ganengine.metrics.spectrum import radial_power_spectrum

# A share of each fold's training images held back to decide when the CNN stops.
VALIDATION_SHARE = 0.2


@dataclass(frozen=True)
class CNNObserver:
    """A CNN of four conv-BN-LeakyReLU-pool blocks, trained from scratch on each fold.

    It trains for at most `max_epochs`, keeps the weights of the epoch with the lowest
    validation loss and stops once `patience` epochs pass without a lower one.
    """

    name = "cnn"
    resolution: int = 64
    max_epochs: int = 40
    patience: int = 6
    batch_size: int = 32
    learning_rate: float = 1e-3
    device: str | torch.device | None = None

    def inputs(self, images: np.ndarray) -> torch.Tensor:
        """[N, C, h, w] in [-1, 1], area-downsampled to at most `resolution` a side."""
        return downsample(channels_first(images) * 2 - 1, self.resolution)

    def fit_score(
        self, x: torch.Tensor, y: np.ndarray, test: torch.Tensor, seed: int
    ) -> tuple[np.ndarray, int]:
        """Scores of the `test` images and the epoch whose weights scored them."""
        generator = torch.Generator().manual_seed(seed)
        labels = torch.from_numpy(y).float()
        fit, validation = _stratified_split(labels, VALIDATION_SHARE, generator)
        device = torch.device(self.device or "cpu")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = _cnn(x.shape[1]).to(device)
        optimizer = torch.optim.Adam(network.parameters(), lr=self.learning_rate)
        # Weight the classes equally, so an imbalanced split does not teach "say the majority".
        pos_weight = ((labels == 0).sum() / (labels == 1).sum()).to(device)
        best_loss, best_epoch, best_state = float("inf"), 0, None
        for epoch in range(1, self.max_epochs + 1):
            network.train()
            order = fit[torch.randperm(len(fit), generator=generator)]
            for batch in order.split(self.batch_size):
                if len(batch) < 2:
                    continue  # batch norm needs two images
                loss = F.binary_cross_entropy_with_logits(
                    network(x[batch].to(device)).squeeze(1),
                    labels[batch].to(device),
                    pos_weight=pos_weight,
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            logits = _logits(network, x[validation], device)
            loss = float(
                F.binary_cross_entropy_with_logits(
                    logits, labels[validation], pos_weight=pos_weight
                )
            )
            if loss < best_loss:
                best_loss, best_epoch = loss, epoch
                best_state = copy.deepcopy(network.state_dict())
            elif epoch - best_epoch >= self.patience:
                break
        network.load_state_dict(best_state)
        return _logits(network, test, device).numpy(), best_epoch


@dataclass(frozen=True)
class SpectrumObserver:
    """Logistic regression on the standardised log radial power spectrum, per channel.

    The regularisation strength is chosen by an inner cross-validation (log loss) on the
    training folds; the standardisation is fitted inside it.
    """

    name = "spectrum"
    bins: int = 32  # rings of radial frequency; fewer than the images' half side pool them

    def inputs(self, images: np.ndarray) -> np.ndarray:
        """[N, C * bins]: the log spectrum of the images at full resolution, all detail kept."""
        bins = min(self.bins, min(images.shape[1:3]) // 2)
        spectrum = radial_power_spectrum(images, bins)
        return np.log(spectrum + 1e-12).reshape(len(images), -1)  # +eps: a flat image is 0

    def fit_score(
        self, x: np.ndarray, y: np.ndarray, test: np.ndarray, seed: int
    ) -> tuple[np.ndarray, None]:
        model = make_pipeline(
            StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000)
        )
        inner_folds = min(5, int(np.bincount(y).min()))
        if inner_folds >= 2:  # else too few images to choose the strength: scikit-learn's C = 1
            model = GridSearchCV(
                model,
                {"logisticregression__C": np.logspace(-4, 2, 7)},
                scoring="neg_log_loss",
                cv=StratifiedKFold(inner_folds, shuffle=True, random_state=seed),
            )
        model.fit(x, y)
        return model.decision_function(test), None


Observer = CNNObserver | SpectrumObserver


def _cnn(channels: int) -> nn.Sequential:
    # Block 1 runs at full resolution, so pixel-level texture and period-2 artefacts reach it.
    widths = [channels, 8, 16, 32, 64]
    layers: list[nn.Module] = []
    for c_in, c_out in zip(widths, widths[1:], strict=False):
        layers += [
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.LeakyReLU(0.2),
            nn.AvgPool2d(2),
        ]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[-1], 1))


def _logits(network: nn.Module, x: torch.Tensor, device: torch.device) -> torch.Tensor:
    network.eval()
    with torch.inference_mode():
        return torch.cat([network(b.to(device)).squeeze(1).cpu() for b in x.split(256)])


def _stratified_split(
    labels: torch.Tensor, share: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (fit, validation), `share` of each class in validation (at least one)."""
    fit, validation = [], []
    for label in (0, 1):
        indices = torch.nonzero(labels == label).squeeze(1)
        indices = indices[torch.randperm(len(indices), generator=generator)]
        cut = max(1, round(len(indices) * share))
        validation.append(indices[:cut])
        fit.append(indices[cut:])
    return torch.cat(fit), torch.cat(validation)
