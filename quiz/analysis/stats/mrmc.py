"""The reader-averaged AUC with random readers and random images (multi-reader multi-case).

Two methods, chosen by the design (quiz.analysis.stats.roc decides which applies):

* **Fully crossed** (every reader rated every image once): the Obuchowski–Rockette (OR) model
  with Hillis's denominator degrees of freedom, random readers and random cases, the error
  covariances estimated by the jackknife over cases. This is the analysis of OR-DBM MRMC
  (Schartz, Hillis, Pesce, Berbaum), RJafroc's `StSignificanceTesting(method = "OR")` and
  MRMCaov's `mrmc(..., cov = jackknife)`; it reproduces their published Van Dyke et al. (1993)
  figures to every printed digit (tests/quiz/analysis/test_roc_mrmc.py).

  - AUC: the empirical (trapezoidal) area, i.e. the Mann–Whitney statistic, ties counting ½.
  - Jackknife: θ(k) is a curve's AUC without case k; Cov(θ_i, θ_j) =
    (c − 1)/c · Σ_k (θ_i(k) − θ̄_i)(θ_j(k) − θ̄_j) over the c cases. Var(error) is the mean of
    the variances; Cov1 the mean covariance of one reader in two modalities, Cov2 of two
    readers in one modality, Cov3 of two readers in two modalities (Obuchowski & Rockette 1995).
  - One modality (Hillis 2007, "ddf_H_single"; OR-DBM MRMC's "single-treatment" analysis, which
    uses only that modality's data): the reader-averaged AUC θ̄ has
    Var = [MS(R) + r · max(Cov2, 0)] / r, with MS(R) the variance of the r readers' AUCs, and
    df = [MS(R) + r · max(Cov2, 0)]² / [MS(R)² / (r − 1)]; 95% CI θ̄ ± t(0.975; df) · SE.
    Cov3 has no part here: it pairs different readers in *different* modalities.
  - Two or more modalities (Hillis 2007; Hillis, Berbaum & Metz 2008):
    F = MS(T) / [MS(T×R) + r · max(Cov2 − Cov3, 0)] on (t − 1, ddf_H) degrees of freedom,
    ddf_H = [MS(T×R) + r · max(Cov2 − Cov3, 0)]² / {MS(T×R)² / [(t − 1)(r − 1)]}; each
    difference of two modalities has SE = √{(2/r) · [MS(T×R) + r · max(Cov2 − Cov3, 0)]} on
    ddf_H. Our studies have one modality; the comparison is here because reproducing the
    published two-modality F, df and p is the strongest check that Cov1, Cov2 and Cov3 are
    estimated as the references do.

* **Not crossed** (readers saw different images, as our sessions draw them): the OR model's
  covariances assume every reader read every case, so it does not apply. The reader-averaged
  AUC then takes a two-way bootstrap: each resample draws readers with replacement and, shared
  by all readers, images with replacement within each class (so both classes stay present);
  each drawn reader's AUC is the Mann–Whitney AUC over their trials weighted by how often each
  of their images was drawn, and the resample's estimate is the mean over drawn readers whose
  drawn trials hold both classes (a resample with none is left out; `resamples` counts those
  kept). SE is the resamples' standard deviation, the 95% CI their percentile interval; with
  fewer than two readers or two images of a class there is neither. The two-way bootstrap
  counts the reader × case interaction twice, so its variance is biased upwards (Gallas,
  Bandos, Samuelson & Wagner 2009): the interval is conservative. Gallas's U-statistic
  estimator (iMRMC) is unbiased on arbitrary designs but is not implemented here.

The Mann–Whitney kernel, the jackknife and the weighted bootstrap AUC are written here rather
than taken from a library: scikit-learn gives each curve's AUC but neither leave-one-case-out
values nor an AUC under case weights that can be reused across thousands of resamples, and none
of scipy, statsmodels or scikit-learn implements the OR model. Leaving out a case costs a row or
column sum of the reader's kernel matrix; a resample costs, per reader, a product over the
distinct ratings they gave (class × rating cells, _Cells).

Measured (tests/quiz/analysis/test_roc_mrmc.py's simulated design: 25 readers, each rating 30
of 120 images on 6 points, population AUC 0.761; 200 seeded studies, 1,000 resamples): the
bootstrap interval covered the truth in 196 (98%), mean width 0.136 where the estimates' own
spread (SD 0.027) asks for 0.107 — conservative, as expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats

LEVEL = 0.95
# Bootstrap resamples are drawn this many (resample, image) cells at a time.
_BOOTSTRAP_CELLS = 2_000_000


def kernel(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """ψ(x, y) for every positive score x and negative score y: 1 if x > y, ½ if tied, else 0."""
    x, y = np.asarray(positive, dtype=float)[:, None], np.asarray(negative, dtype=float)[None, :]
    return (x > y) + 0.5 * (x == y)


def jackknife_aucs(scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each curve's AUC and its AUC without each case in turn.

    `scores` is (k, c): k curves (modality × reader) over the same c cases, a higher score
    meaning more likely positive; `truth` is (c,) bool. Returns the AUCs (k,) and the
    leave-one-case-out AUCs (k, c). Needs at least two cases of each class.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    truth = np.asarray(truth, dtype=bool)
    n1, n0 = int(truth.sum()), int((~truth).sum())
    if n1 < 2 or n0 < 2:
        raise ValueError(f"the jackknife needs two cases of each class, not {n1} and {n0}")
    aucs = np.empty(len(scores))
    left_out = np.empty(scores.shape)
    for k, curve in enumerate(scores):
        psi = kernel(curve[truth], curve[~truth])
        total = psi.sum()
        aucs[k] = total / (n1 * n0)
        left_out[k, truth] = (total - psi.sum(axis=1)) / ((n1 - 1) * n0)
        left_out[k, ~truth] = (total - psi.sum(axis=0)) / (n1 * (n0 - 1))
    return aucs, left_out


def jackknife_covariance(left_out: np.ndarray) -> np.ndarray:
    """(k, k): the jackknife covariance of k statistics from their (k, c) leave-one-out values."""
    c = left_out.shape[1]
    deviations = left_out - left_out.mean(axis=1, keepdims=True)
    return (c - 1) / c * deviations @ deviations.T


def or_hillis(aucs: np.ndarray, left_out: np.ndarray, level: float = LEVEL) -> dict:
    """The OR analysis with Hillis's df, random readers and cases (see the module docstring).

    `aucs` is (t, r): t modalities × r readers; `left_out` is (t, r, c), their AUCs without
    each of the c cases (jackknife_aucs). Returns `modalities`, one single-modality analysis
    each (estimate, se, df, ci95 and the terms behind them), and for t ≥ 2 `comparison`: the
    global F test and every pairwise difference.
    """
    aucs = np.atleast_2d(np.asarray(aucs, dtype=float))
    t, r = aucs.shape
    covariance = jackknife_covariance(left_out.reshape(t * r, -1))
    modality = np.repeat(np.arange(t), r)
    reader = np.tile(np.arange(r), t)
    same_modality = modality[:, None] == modality[None, :]
    same_reader = reader[:, None] == reader[None, :]
    result = {
        "method": "obuchowski-rockette-hillis",
        "readers": r,
        "cases": int(left_out.shape[-1]),
        "modalities": [
            _single_modality(aucs[m], covariance[modality == m][:, modality == m], level)
            for m in range(t)
        ],
    }
    if t >= 2:
        result["comparison"] = _comparison(
            aucs,
            var_error=float(np.diag(covariance).mean()),
            cov1=_mean(covariance[~same_modality & same_reader]),
            cov2=_mean(covariance[same_modality & ~same_reader]),
            cov3=_mean(covariance[~same_modality & ~same_reader]),
            level=level,
        )
    return result


def _single_modality(aucs: np.ndarray, covariance: np.ndarray, level: float) -> dict:
    r = len(aucs)
    cov2 = _mean(covariance[~np.eye(r, dtype=bool)])
    estimate = float(aucs.mean())
    ms_r = se = df = math.nan
    if r >= 2:  # one reader says nothing about the variance between readers
        ms_r = float(np.var(aucs, ddof=1))
        denominator = ms_r + r * max(cov2, 0.0)
        se = math.sqrt(denominator / r)
        # Every reader at the same AUC (ms_r = 0) leaves case variance only: df is infinite
        # and the t quantile the normal one.
        df = denominator**2 / (ms_r**2 / (r - 1)) if ms_r > 0 else math.inf
    return {
        "estimate": estimate,
        "se": se,
        "df": df,
        "ci95": _t_interval(estimate, se, df, level),
        "ms_r": ms_r,
        "cov2": cov2,
        "var_error": float(np.diag(covariance).mean()),
    }


def _comparison(
    aucs: np.ndarray, *, var_error: float, cov1: float, cov2: float, cov3: float, level: float
) -> dict:
    t, r = aucs.shape
    grand, by_modality, by_reader = aucs.mean(), aucs.mean(axis=1), aucs.mean(axis=0)
    ms_t = r * float(((by_modality - grand) ** 2).sum()) / (t - 1)
    interaction = aucs - by_modality[:, None] - by_reader[None, :] + grand
    ms_tr = float((interaction**2).sum()) / ((t - 1) * (r - 1)) if r > 1 else math.nan
    denominator = ms_tr + r * max(cov2 - cov3, 0.0)
    ddf = denominator**2 / (ms_tr**2 / ((t - 1) * (r - 1))) if ms_tr > 0 else math.inf
    f = ms_t / denominator if denominator > 0 else math.nan
    differences = []
    se = math.sqrt(2 / r * denominator) if denominator >= 0 else math.nan
    for i in range(t):
        for j in range(i + 1, t):
            difference = float(by_modality[i] - by_modality[j])
            statistic = difference / se if se > 0 else math.nan
            differences.append(
                {
                    "modalities": [i, j],
                    "estimate": difference,
                    "se": se,
                    "df": ddf,
                    "ci95": _t_interval(difference, se, ddf, level),
                    "t": statistic,
                    "p": float(2 * stats.t.sf(abs(statistic), ddf)),
                }
            )
    return {
        "f": f,
        "df1": t - 1,
        "df2": ddf,
        "p": float(stats.f.sf(f, t - 1, ddf)),
        "ms_t": ms_t,
        "ms_tr": ms_tr,
        "denominator": denominator,
        "var_error": var_error,
        "cov1": cov1,
        "cov2": cov2,
        "cov3": cov3,
        "differences": differences,
    }


def two_way_bootstrap(
    reader: np.ndarray,
    image: np.ndarray,
    positive: np.ndarray,
    score: np.ndarray,
    n_resamples: int,
    rng: np.random.Generator,
    level: float = LEVEL,
) -> dict:
    """The reader-averaged AUC with a bootstrap over readers and images (module docstring).

    One entry per trial: `reader` and `image` are integer codes, `positive` the image's class,
    `score` the rating. Returns estimate, se, ci95 (NaN where undefined: fewer than two readers
    with an AUC or two images of a class), the resamples that gave an estimate, and the readers
    and images counted.
    """
    reader = np.asarray(reader)
    image = np.asarray(image)
    positive = np.asarray(positive, dtype=bool)
    score = np.asarray(score, dtype=float)
    readers, reader_code = np.unique(reader, return_inverse=True)
    images, image_code = np.unique(image, return_inverse=True)
    image_positive = np.zeros(len(images), dtype=bool)
    image_positive[image_code] = positive
    cells = _Cells.of(reader_code, image_code, positive, score, len(images))
    observed = cells.aucs(np.ones((1, len(images))))[0]
    counted = np.isfinite(observed)
    result = {
        "method": "two-way bootstrap",
        "readers": int(counted.sum()),
        "cases": len(images),
        "estimate": float(observed[counted].mean()) if counted.any() else math.nan,
        "se": math.nan,
        "df": None,
        "ci95": [math.nan, math.nan],
        "resamples": 0,
    }
    # Random readers and random images need two of each to vary: with one reader, or one image
    # of a class, every resample repeats it and the interval would be falsely narrow.
    if counted.sum() < 2 or min(image_positive.sum(), (~image_positive).sum()) < 2:
        return result
    if n_resamples < 1:
        return result
    replicates = _bootstrap_replicates(cells, len(readers), image_positive, n_resamples, rng)
    replicates = replicates[np.isfinite(replicates)]
    if replicates.size >= 2:
        tail = (1 - level) / 2 * 100
        result["se"] = float(replicates.std(ddof=1))
        result["ci95"] = [float(v) for v in np.percentile(replicates, [tail, 100 - tail])]
    result["resamples"] = int(replicates.size)
    return result


@dataclass(frozen=True)
class _Cells:
    """Each reader's trials collapsed to (class, distinct score) cells, for weighted AUCs.

    A resample weights each image by how often it was drawn; a reader's weighted Mann–Whitney
    AUC needs only the total weight in each of their (class, score) cells, and the kernel between
    their distinct scores. `to_cells` (images × cells, sparse) sums image weights into cells for
    every reader at once, so a k-point scale costs k² per reader and resample, not trials².
    """

    to_cells: sparse.csr_matrix
    readers: list  # (reader, positive cell columns, negative cell columns, kernel) per reader

    @classmethod
    def of(cls, reader, image, positive, score, n_images) -> _Cells:
        readers, columns, offset = [], np.empty(len(reader), dtype=np.int64), 0
        for k in np.unique(reader):
            mine = np.flatnonzero(reader == k)
            if not (positive[mine].any() and not positive[mine].all()):
                continue  # one class only: no AUC
            levels, rank = np.unique(score[mine], return_inverse=True)
            columns[mine] = offset + rank + len(levels) * ~positive[mine]
            pos_columns = offset + np.arange(len(levels))
            readers.append((k, pos_columns, pos_columns + len(levels), kernel(levels, levels)))
            offset += 2 * len(levels)
        used = np.isin(reader, [k for k, *_ in readers])
        to_cells = sparse.csr_matrix(
            (np.ones(used.sum()), (image[used], columns[used])), shape=(n_images, offset)
        )
        return cls(to_cells, readers)

    def aucs(self, weight: np.ndarray) -> np.ndarray:
        """(size, readers): each reader's AUC under each row of image weights; NaN without pairs."""
        in_cells = (self.to_cells.T @ weight.T).T
        result = np.full((len(weight), 1 + max((k for k, *_ in self.readers), default=0)), np.nan)
        for k, pos_columns, neg_columns, psi in self.readers:
            w_pos, w_neg = in_cells[:, pos_columns], in_cells[:, neg_columns]
            pairs = w_pos.sum(axis=1) * w_neg.sum(axis=1)
            area = ((w_pos @ psi) * w_neg).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                result[:, k] = np.where(pairs > 0, area / pairs, np.nan)
        return result


def _bootstrap_replicates(
    cells: _Cells, n_readers: int, image_positive: np.ndarray, n_resamples: int, rng
) -> np.ndarray:
    positives = np.flatnonzero(image_positive)
    negatives = np.flatnonzero(~image_positive)
    chunk = max(1, min(n_resamples, _BOOTSTRAP_CELLS // max(len(image_positive), n_readers, 1)))
    replicates = []
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        # How often each image is drawn (within its class) and each reader is drawn.
        weight = np.zeros((size, len(image_positive)))
        weight[:, positives] = _draw_counts(rng, len(positives), size)
        weight[:, negatives] = _draw_counts(rng, len(negatives), size)
        reader_weight = _draw_counts(rng, n_readers, size)
        aucs = cells.aucs(weight)
        reader_weight = reader_weight[:, : aucs.shape[1]] * np.isfinite(aucs)
        with np.errstate(invalid="ignore", divide="ignore"):
            replicates.append(np.nansum(reader_weight * aucs, axis=1) / reader_weight.sum(axis=1))
    return np.concatenate(replicates)


def _draw_counts(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """(size, n): how often each of n items is drawn in `size` resamples of n with replacement."""
    drawn = rng.integers(0, n, size=(size, n)) if n else np.zeros((size, 0), dtype=np.int64)
    flat = (drawn + n * np.arange(size)[:, None]).ravel()
    return np.bincount(flat, minlength=size * n).reshape(size, n).astype(float)


def _t_interval(estimate: float, se: float, df: float, level: float) -> list[float]:
    if not (math.isfinite(se) and df == df):
        return [math.nan, math.nan]
    half = float(stats.t.ppf(1 - (1 - level) / 2, df)) * se
    return [estimate - half, estimate + half]


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan
