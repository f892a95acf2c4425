"""ROC analysis of confidence ratings: each participant's curve and AUC, and the reader-averaged
AUC over everyone, per generator and per expertise group.

* **Which trials.** Only trials with a rating (rows.py) take part; the block is absent from the
  report when no trial has one. Synthetic is the positive class and the rating the score
  (1 = certainly real … k = certainly synthetic), so an AUC of 1 is a participant who always
  rated synthetic images as more synthetic than real ones, and 0.5 is chance.
* **Each participant** (the reader): the empirical ROC curve, one point per distinct rating
  ("called synthetic at this rating or above"), from the origin to (1, 1), and its trapezoidal
  area, which is the Mann–Whitney AUC (ties count ½): scikit-learn's `roc_curve`
  (`drop_intermediate=False`, so that every rating is a point) and `auc` over it. A
  participant whose rated trials hold one class only has no curve (AUC None).
* **The reader-averaged AUC** (mrmc.py has the formulas): the design decides the method and
  `auc.method` names it.
  - *Fully crossed*: every participant rated every image exactly once. Then the
    Obuchowski–Rockette model with Hillis's df, random readers and random cases, jackknife
    covariances over images ("obuchowski-rockette-hillis"), as RJafroc and MRMCaov compute it.
  - *Otherwise* (our sessions draw different images for each participant, and a participant
    may meet an image twice): the OR covariances need every reader on every case, so the
    two-way bootstrap over participants and images is used ("two-way bootstrap"), seeded.
* **Groups.** `roc_by_group` is the one hook for any grouping of trials: a code per trial and
  the groups' labels, code −1 meaning "in every group". By generator, each generator's
  synthetic trials are analysed against all real trials (real panels have no generator: −1);
  by expertise, each group's participants with all their trials. The design is judged within
  each group, so a group can be crossed where the whole study is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import config_context
from sklearn.metrics import auc, roc_curve

from quiz.analysis.stats.mrmc import jackknife_aucs, or_hillis, two_way_bootstrap
from quiz.analysis.stats.rows import Trials

# Two-way bootstrap resamples for a design that is not fully crossed. Each costs one weighted
# Mann–Whitney sum per participant; 2,000 keep a 200-participant study within seconds and the
# percentile interval's ends stable to about ±0.005 AUC.
ROC_RESAMPLES = 2_000
CROSSED, NOT_CROSSED = "fully crossed", "not crossed"


@dataclass(frozen=True)
class Rated:
    """The rated trials: (m,) per trial, codes as in Trials."""

    participant: np.ndarray
    image: np.ndarray
    synthetic: np.ndarray
    rating: np.ndarray

    def where(self, mask: np.ndarray) -> Rated:
        return Rated(
            self.participant[mask], self.image[mask], self.synthetic[mask], self.rating[mask]
        )

    def __len__(self) -> int:
        return len(self.participant)


def roc_block(
    data: Trials, n_resamples: int = ROC_RESAMPLES, seed: np.random.SeedSequence | None = None
) -> dict | None:
    """The report's `roc` block, or None when no trial has a rating."""
    keep = ~np.isnan(data.rating)
    if not keep.any():
        return None
    rated = Rated(data.participant[keep], data.image[keep], data.synthetic[keep], data.rating[keep])
    seeds = (seed or np.random.SeedSequence(0)).spawn(3)
    return {
        "positive_class": "synthetic",
        "trials": len(rated),
        "ratings": sorted(float(v) for v in np.unique(rated.rating)),
        "design": design(rated),
        "per_participant": per_participant(rated, data.participants),
        "auc": reader_averaged_auc(rated, n_resamples, seeds[0]),
        "by_generator": [
            {"generator": row.pop("label"), **row}
            for row in roc_by_group(
                rated,
                data.generator[keep],
                data.generators,
                n_resamples,
                seeds[1],
            )
        ],
        "by_expertise": [
            {"expertise": row.pop("label"), **row}
            for row in roc_by_group(
                rated,
                data.expertise[rated.participant],
                data.expertise_levels,
                n_resamples,
                seeds[2],
            )
        ],
    }


def per_participant(rated: Rated, participants: list) -> list[dict]:
    """Each participant with rated trials: their empirical ROC curve and AUC."""
    rows = []
    # rows.py has checked the labels and ratings: scikit-learn's own checks cost more than the
    # curves (about 10 ms a call).
    with config_context(skip_parameter_validation=True, assume_finite=True):
        for p in np.unique(rated.participant):
            mine = rated.participant == p
            truth, rating = rated.synthetic[mine], rated.rating[mine]
            row = {"participant": participants[p], "trials": int(mine.sum()), "auc": None}
            row["roc_points"] = []
            if truth.any() and not truth.all():
                fpr, tpr, thresholds = roc_curve(truth, rating, drop_intermediate=False)
                # The trapezoids under every point of the empirical curve: the Mann–Whitney AUC.
                row["auc"] = float(auc(fpr, tpr))
                row["roc_points"] = [
                    {"fpr": float(f), "tpr": float(t), "rating": float(c) if c < np.inf else None}
                    for f, t, c in zip(fpr, tpr, thresholds, strict=True)
                ]
            rows.append(row)
    return rows


def design(rated: Rated) -> str:
    """Fully crossed when every participant rated every image exactly once."""
    readers, images = np.unique(rated.participant), np.unique(rated.image)
    pairs = np.unique(np.column_stack([rated.participant, rated.image]), axis=0)
    crossed = len(rated) == len(pairs) == len(readers) * len(images)
    return CROSSED if crossed else NOT_CROSSED


def reader_averaged_auc(
    rated: Rated, n_resamples: int, seed: np.random.SeedSequence | None
) -> dict:
    """The reader-averaged AUC by the method the design allows (module docstring)."""
    _, first = np.unique(rated.image, return_index=True)
    classes = np.bincount(rated.synthetic[first].astype(int), minlength=2)
    if design(rated) == CROSSED and classes.min() >= 2:
        return _or_hillis(rated)
    rng = np.random.default_rng(seed or np.random.SeedSequence(0))
    return two_way_bootstrap(
        rated.participant, rated.image, rated.synthetic, rated.rating, n_resamples, rng
    )


def _or_hillis(rated: Rated) -> dict:
    readers, reader = np.unique(rated.participant, return_inverse=True)
    images, image = np.unique(rated.image, return_inverse=True)
    scores = np.empty((len(readers), len(images)))
    scores[reader, image] = rated.rating
    truth = np.zeros(len(images), dtype=bool)
    truth[image] = rated.synthetic
    aucs, left_out = jackknife_aucs(scores, truth)
    analysis = or_hillis(aucs[None, :], left_out[None, :, :])
    return {
        "method": analysis["method"],
        "readers": analysis["readers"],
        "cases": analysis["cases"],
        **analysis["modalities"][0],
    }


def roc_by_group(
    rated: Rated,
    group: np.ndarray,
    labels: list,
    n_resamples: int = ROC_RESAMPLES,
    seed: np.random.SeedSequence | None = None,
) -> list[dict]:
    """The reader-averaged AUC in each group of trials: the hook for any grouping key.

    `group` is (m,), one code per rated trial, an index into `labels`, or −1 for a trial that
    belongs to every group (a real panel when the key is the generator). Returns one dict per
    label that has trials of its own: `label`, `participants`, `trials` and `auc`.
    """
    group = np.asarray(group)
    seeds = (seed or np.random.SeedSequence(0)).spawn(max(len(labels), 1))
    rows = []
    for code, label in enumerate(labels):
        own = group == code
        if not own.any():
            continue
        subset = rated.where(own | (group == -1))
        rows.append(
            {
                "label": label,
                "participants": len(np.unique(subset.participant)),
                "trials": len(subset),
                "design": design(subset),
                "auc": reader_averaged_auc(subset, n_resamples, seeds[code]),
            }
        )
    return rows
