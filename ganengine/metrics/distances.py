"""FID and KID between two sets of feature vectors (normally Inception pool3 features).

Both are biased by the number of images, FID strongly (it falls as N grows, even between two
samples of one distribution), KID not at all (its MMD estimate is unbiased), so every result
carries n_real and n_fake, and KID is the one to compare at the few hundred images a study has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class FIDResult:
    fid: float
    n_real: int
    n_fake: int


@dataclass(frozen=True)
class KIDResult:
    kid: float  # mean over subsets of the unbiased MMD^2 estimate
    kid_std: float  # standard deviation over subsets
    n_real: int
    n_fake: int
    subsets: int
    subset_size: int


def fid(real_features: np.ndarray, fake_features: np.ndarray) -> FIDResult:
    """Fréchet distance between Gaussians fitted to two [N, D] feature sets (Heusel et al. 2017).

    |mu_r - mu_f|^2 + tr(S_r) + tr(S_f) - 2 tr((S_r S_f)^(1/2)), with sample covariances
    (ddof=1) as in pytorch-fid. Writing S_r = A A^T and S_f = B B^T (A, B the centred features
    over sqrt(N - 1)), tr((S_r S_f)^(1/2)) is the nuclear norm of A^T B, which is exact and, with
    fewer images than dimensions, much cheaper than a D x D matrix square root.
    """
    real, fake = _features(real_features, "real"), _features(fake_features, "fake")
    _same_dimension(real, fake)
    if len(real) < 2 or len(fake) < 2:
        raise ValueError("FID needs at least 2 feature vectors in each set")
    a = (real - real.mean(0)) / (len(real) - 1) ** 0.5  # [N_r, D]
    b = (fake - fake.mean(0)) / (len(fake) - 1) ** 0.5  # [N_f, D]
    value = (
        (real.mean(0) - fake.mean(0)).square().sum()
        + a.square().sum()
        + b.square().sum()
        - 2 * _trace_sqrt_product(a, b)
    )
    return FIDResult(fid=max(float(value), 0.0), n_real=len(real), n_fake=len(fake))


def _trace_sqrt_product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """tr((A^T A B^T B)^(1/2)) for [N_a, D] and [N_b, D], by the cheaper of two exact routes."""
    small, large = sorted((len(a), len(b)))
    dim = a.shape[1]
    if small * small * large < dim**3:
        return torch.linalg.matrix_norm(a @ b.T, ord="nuc")
    cov_a, cov_b = a.T @ a, b.T @ b
    values, vectors = torch.linalg.eigh(cov_a)
    root_a = (vectors * values.clamp(min=0).sqrt()) @ vectors.T
    return torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()


def kid(
    real_features: np.ndarray,
    fake_features: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> KIDResult:
    """Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2 with the kernel
    k(x, y) = (x . y / D + 1)^3, averaged over `subsets` random subsets of
    min(subset_size, n_real, n_fake) vectors from each set, as torch-fidelity and StyleGAN do.
    Near 0 (and may be slightly negative) when the sets come from one distribution.
    """
    real, fake = _features(real_features, "real"), _features(fake_features, "fake")
    _same_dimension(real, fake)
    if subsets < 1:
        raise ValueError(f"subsets must be at least 1, got {subsets}")
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise ValueError("KID needs a subset size of at least 2 (and 2 vectors in each set)")
    generator = torch.Generator().manual_seed(seed)
    estimates = torch.empty(subsets, dtype=torch.float64)
    for i in range(subsets):
        x = real[torch.randperm(len(real), generator=generator)[:m]]
        y = fake[torch.randperm(len(fake), generator=generator)[:m]]
        estimates[i] = _unbiased_mmd2(x, y)
    return KIDResult(
        kid=float(estimates.mean()),
        kid_std=float(estimates.std(correction=0)),
        n_real=len(real),
        n_fake=len(fake),
        subsets=subsets,
        subset_size=m,
    )


def _unbiased_mmd2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m, dim = x.shape
    k_xx = (x @ x.T / dim + 1) ** 3
    k_yy = (y @ y.T / dim + 1) ** 3
    k_xy = (x @ y.T / dim + 1) ** 3
    off_diagonal = k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()
    return off_diagonal / (m * (m - 1)) - 2 * k_xy.mean()


def _features(features: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(features).detach().to("cpu", torch.float64)
    if tensor.ndim != 2:
        raise ValueError(f"{name} features must be [N, D], got shape {tuple(tensor.shape)}")
    return tensor


def _same_dimension(real: torch.Tensor, fake: torch.Tensor) -> None:
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"Feature sizes differ: real {real.shape[1]}, fake {fake.shape[1]}")
