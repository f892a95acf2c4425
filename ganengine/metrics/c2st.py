"""Classifier two-sample test: the machine's own Turing test (Lopez-Paz & Oquab 2017).

Observers (ganengine.metrics.observers) learn to tell real from generated images; an observer's
ROC AUC on images it was not trained on is 0.5 when it cannot tell them apart and 1.0 when it
always can. Stratified k-fold: every image is scored once by each observer, trained from scratch
on the other folds. The test reports the HIGHEST observer's AUC: a generator is only as good as
the strongest observer it fools.

The maximum of several observers is biased upward when none can tell the sets apart: with two
observers whose AUCs scatter by s around 0.5, their maximum averages about 0.5 + 0.56 s (less
when they agree). The test therefore reports every observer's own AUC and interval beside the
maximum, and the interval of the maximum comes from resampling the test images jointly for all
observers, so it carries the same bias as the figure. The calibration tests check that two
halves of one image set stay near 0.5 all the same, and the model card measures the floor (real
against real) with the same observers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import mannwhitneyu
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from ganengine.metrics._pixels import check_images, check_same_kind
from ganengine.metrics.observers import CNNObserver, Observer, SpectrumObserver

# Resamples of the test images for the AUC's confidence interval.
BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class ObserverResult:
    auc: float  # mean held-out ROC AUC over the folds
    auc_std: float  # standard deviation over the folds
    auc_ci: tuple[float, float]  # 95 % interval, as C2STResult's
    # The CNN's: per fold, the epoch whose weights scored the test images (early stopping).
    epochs: tuple[int, ...] | None = None


@dataclass(frozen=True)
class C2STResult:
    auc: float  # the highest observer's mean held-out ROC AUC; 0.5 = indistinguishable
    auc_std: float  # that observer's standard deviation over the folds
    # 95 % percentile interval of the highest mean AUC over stratified resamples of each fold's
    # test images (one resample for all observers): the uncertainty from which images were
    # tested, not from retraining the observers.
    auc_ci: tuple[float, float]
    observer: str  # the name of the observer with the highest AUC
    observers: dict[str, ObserverResult]  # every observer's own figures
    n_real: int
    n_fake: int
    folds: int
    epochs: int  # the CNN's upper bound on epochs


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


def default_observers(
    *,
    epochs: int = 40,
    resolution: int = 64,
    batch_size: int = 32,
    device: str | torch.device | None = None,
) -> tuple[Observer, ...]:
    """The CNN (at most `epochs`, images at most `resolution` a side) and the spectrum model."""
    return (
        CNNObserver(resolution=resolution, max_epochs=epochs, batch_size=batch_size, device=device),
        SpectrumObserver(),
    )


def classifier_two_sample_test(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    folds: int = 5,
    epochs: int = 40,
    seed: int = 0,
    resolution: int = 64,
    batch_size: int = 32,
    device: str | torch.device | None = None,
    observers: Sequence[Observer] | None = None,
) -> C2STResult:
    """Held-out ROC AUC of the best observer separating real from fake images.

    Images are uint8 [N, H, W] or [N, H, W, 3]; both sets must have the same size and channels,
    since either alone would tell them apart. The CNN sees images larger than `resolution`
    downsampled (area average) to keep it fast and trains for at most `epochs`; the spectrum
    model sees them whole. Deterministic for a seed on the CPU.
    """
    check_images(real, "real images")
    check_images(fake, "fake images")
    check_same_kind(real, fake, ("real", "fake"))
    if folds < 2 or epochs < 1:
        raise ValueError(f"folds must be at least 2 and epochs at least 1, got {folds}, {epochs}")
    if min(len(real), len(fake)) < folds:
        raise ValueError(
            f"{folds}-fold C2ST needs at least {folds} images of each kind, "
            f"got {len(real)} real and {len(fake)} fake"
        )
    if observers is None:
        observers = default_observers(
            epochs=epochs, resolution=resolution, batch_size=batch_size, device=device
        )
    names = [observer.name for observer in observers]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"observers need distinct names, got {names}")
    images = np.concatenate([real, fake])
    y = np.r_[np.zeros(len(real), dtype=int), np.ones(len(fake), dtype=int)]
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(images, y))
    fold_seeds = np.random.default_rng(seed).integers(2**31, size=folds)
    # scores[name][k]: the test images' scores of fold k.
    scores: dict[str, list[np.ndarray]] = {}
    epochs_used: dict[str, list] = {}
    for observer in observers:
        inputs = observer.inputs(images)
        scores[observer.name], epochs_used[observer.name] = [], []
        for (train, test), fold_seed in zip(splits, fold_seeds, strict=True):
            fold_scores, epoch = observer.fit_score(
                inputs[train], y[train], inputs[test], int(fold_seed)
            )
            scores[observer.name].append(np.asarray(fold_scores, dtype=np.float64))
            epochs_used[observer.name].append(epoch)
    labels = [y[test] for _, test in splits]
    aucs = {
        name: [roc_auc(s, lab) for s, lab in zip(scores[name], labels, strict=True)]
        for name in names
    }
    intervals = _bootstrap_intervals(scores, labels, np.random.default_rng(seed))
    results = {
        name: ObserverResult(
            auc=float(np.mean(aucs[name])),
            auc_std=float(np.std(aucs[name])),
            auc_ci=intervals[name],
            epochs=None if None in epochs_used[name] else tuple(epochs_used[name]),
        )
        for name in names
    }
    best = max(names, key=lambda name: results[name].auc)
    return C2STResult(
        auc=results[best].auc,
        auc_std=results[best].auc_std,
        auc_ci=intervals[_HIGHEST],
        observer=best,
        observers=results,
        n_real=len(real),
        n_fake=len(fake),
        folds=folds,
        epochs=epochs,
    )


_HIGHEST = "highest"


def _bootstrap_intervals(
    scores: dict[str, list[np.ndarray]], labels: list[np.ndarray], rng: np.random.Generator
) -> dict[str, tuple[float, float]]:
    """95 % intervals of each observer's mean fold AUC and of the highest of them.

    Each resample draws each fold's real and fake test images with replacement, the same draw
    for every observer, so the interval of the highest AUC is that of the reported maximum.
    A resample's AUC is its Mann-Whitney U over the number of pairs (ties count one half), all
    resamples at once.
    """
    names = list(scores)
    means = np.zeros((BOOTSTRAP_RESAMPLES, len(names)))
    for k, fold_labels in enumerate(labels):
        real, fake = np.flatnonzero(fold_labels == 0), np.flatnonzero(fold_labels == 1)
        real = real[rng.integers(len(real), size=(BOOTSTRAP_RESAMPLES, len(real)))]
        fake = fake[rng.integers(len(fake), size=(BOOTSTRAP_RESAMPLES, len(fake)))]
        for j, name in enumerate(names):
            fold_scores = scores[name][k]
            u = mannwhitneyu(fold_scores[fake], fold_scores[real], axis=1, method="asymptotic")
            means[:, j] += u.statistic / (real.shape[1] * fake.shape[1]) / len(labels)
    columns = {name: means[:, j] for j, name in enumerate(names)} | {_HIGHEST: means.max(axis=1)}
    return {
        name: tuple(float(v) for v in np.percentile(values, [2.5, 97.5]))
        for name, values in columns.items()
    }
