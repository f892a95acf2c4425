"""The analysis of a perceptual Turing test, with the participant as the unit.

Pure functions over trial rows: no Django here. `report(trials)` returns one JSON-ready dict
(floats, ints, strings, lists, dicts and None; never NaN or infinity) and never raises on the
shape of the data: no trials, one participant, everyone right, one answer only, one class
never shown all give defined output. Bad values (a label other than "real"/"synthetic", an
image shown with both labels) raise ValueError naming the trial.

Each decision is stated once, in the docstring of the module that carries it out, and returned
in `report()["methods"]`:

* `rows`: the trial rows, checked, and the same trials as arrays.
* `headline`: the participant as the unit (means over participants, the participant bootstrap,
  the t-test against chance), signal detection, HYPE∞ error, the figures by expertise, and each
  participant's own figures.
* `generators`: the figures per generator (and per checkpoint of a run trained here), and the
  generators' fooling rates compared pair by pair, Holm-adjusted.
* `agreement`: Fleiss' κ or Krippendorff's α, with a bootstrap over images.
* `per_image`: each image's rate, binomial tests, Benjamini–Hochberg, the hardest fakes.
* `session_effects`: answers by panel letter (position), by round (learning), response times.
* `equivalence_and_power`: TOST against chance ± margin, and the participants needed.
* `regression`: the logistic models of "answered correctly" and "called real" (mixed model, or
  a GLM with two-way clustered errors).
* `inference`: the level, the Wilson interval and the t-test that these share.
* `hype_time`: with adaptive exposure, HYPE-time per generator (each participant's staircase
  threshold, the mean over participants, the participant bootstrap); with the side-by-side layout
  (two-alternative forced choice), the side bias. The headline, per-expertise and per-generator
  figures of 2AFC are computed for that task in `headline` and `generators` (criterion-free:
  accuracy is PC, d' = sqrt(2) z(PC), no c).
* `roc`: with confidence ratings, each participant's ROC curve and AUC and the reader-averaged
  AUC (overall, per generator, per expertise group), by `mrmc`: Obuchowski–Rockette with
  Hillis's df on a fully crossed design, a two-way bootstrap otherwise. The report has a `roc`
  block only when some trial has a rating.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping

import numpy as np

from quiz.analysis.stats.agreement import AGREEMENT_RESAMPLES, agreement
from quiz.analysis.stats.equivalence_and_power import equivalence, power
from quiz.analysis.stats.generators import headline_and_generators
from quiz.analysis.stats.headline import (
    DPRIME_CONVENTION,
    DPRIME_CONVENTION_2AFC,
    PerParticipant,
    by_expertise,
    per_participant,
)
from quiz.analysis.stats.hype_time import hype_time, side_bias
from quiz.analysis.stats.inference import ALPHA
from quiz.analysis.stats.per_image import per_image
from quiz.analysis.stats.regression import models
from quiz.analysis.stats.roc import ROC_RESAMPLES, roc_block
from quiz.analysis.stats.rows import TrialRow, Trials
from quiz.analysis.stats.session_effects import learning, position, response_times

METHODS = {
    "unit": "participant",
    "estimate": "mean over participants of each participant's figure",
    "ci95": "participant-level (cluster) bootstrap, percentile interval",
    "naive_ci95": "naive (trials independent): Wilson interval on pooled trials",
    "p_vs_chance": "one-sample t-test of participants' values against the figure's null value",
    "hype_error": "HYPE-infinity error (Zhou et al. 2019): 1 - accuracy per participant, "
    "real and synthetic panels together, averaged over participants",
    "by_generator": "each figure per generator over participants, against the real panels; "
    "participant bootstrap and t-test as the headline",
    "generator_comparisons": "difference of fooling rates within participant; participant "
    "bootstrap CI; paired t-test, Holm-adjusted over all pairs",
    "agreement_ci95": "bootstrap over images (rated units)",
    "per_image_p": "exact binomial test against 0.5, Benjamini-Hochberg over all images",
    "position": "chi-squared tests of independence, trials treated as independent",
    "learning": "GEE logistic slope over round, participant clusters, exchangeable",
    "equivalence": "TOST: two one-sided t-tests over participants at chance +/- margin",
    "power": "statsmodels TTestPower, two-sided, alpha 0.05, power 0.8, observed SD",
    "two_afc": "side by side (two-alternative forced choice): accuracy is the proportion of "
    "pairs whose real image was chosen (PC), criterion-free, chance 1/2; fooling rate = 1 - PC; "
    "balanced accuracy = PC; d' = sqrt(2) z(PC) with the log-linear correction; no criterion c",
    "hype_time": "modal exposure of each participant's 3-down/1-up staircase per generator, "
    "mean over participants, participant bootstrap percentile CI",
    "roc": "confidence ratings as the score, synthetic the positive class; per participant the "
    "empirical (trapezoidal, Mann-Whitney) ROC AUC; reader-averaged AUC with random readers and "
    "random images: Obuchowski-Rockette with Hillis (2007) df and jackknife covariances over "
    "images when every participant rated every image once, else a two-way bootstrap over "
    "participants and images (percentile CI, conservative); roc.auc.method names which",
}


def report(
    trials: Iterable[TrialRow | Mapping | object],
    *,
    chance: float = 0.5,
    margin: float = 0.05,
    seed: int = 0,
    n_resamples: int = 10_000,
    agreement_resamples: int = AGREEMENT_RESAMPLES,
    roc_resamples: int = ROC_RESAMPLES,
    model: str = "auto",
    expertise_reference: str | None = None,
) -> dict:
    """Every figure of the analysis, as a JSON-ready dict (see the package docstring).

    `trials` holds TrialRow objects, or any objects or mappings with the same field names.
    `model` is "auto" (the mixed model within regression.MIXED_MODEL_MAX_WORK, else the clustered
    logistic model), "mixed", "clustered" or "none". `expertise_reference` is the models'
    reference group (default: the largest).
    """
    if model not in ("auto", "mixed", "clustered", "none"):
        raise ValueError(f"model must be auto, mixed, clustered or none, not {model!r}")
    data = Trials.of(trials)
    # Spawned children depend on their index only: adding the fourth left the first three alone.
    seeds = np.random.SeedSequence(seed).spawn(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per = PerParticipant.of(data)
        headline, by_generator, comparisons = headline_and_generators(
            data, per, chance, n_resamples, seeds[0]
        )
        result = {
            "task": "2afc" if data.paired else "yes_no",
            "participants": len(data.participants),
            "trials": data.n,
            "images": len(data.images),
            **headline,
            "dprime_convention": DPRIME_CONVENTION_2AFC if data.paired else DPRIME_CONVENTION,
            "methods": METHODS,
            "settings": {
                "chance": chance,
                "margin": margin,
                "seed": seed,
                "n_resamples": n_resamples,
                "agreement_resamples": agreement_resamples,
                "roc_resamples": roc_resamples,
                "alpha": ALPHA,
            },
            "by_expertise": by_expertise(data, per, chance, n_resamples, seeds[1]),
            "by_generator": by_generator,
            "generator_comparisons": comparisons,
            "per_participant": per_participant(data, per),
            "agreement": agreement(data, agreement_resamples, np.random.default_rng(seeds[2])),
            "per_image": per_image(data),
            "position": position(data),
            "learning": learning(data),
            "response_times": response_times(data),
            "equivalence": equivalence(per.values()["accuracy"], chance, margin),
            "power": power(per.values()["accuracy"], chance),
            "model": models(data, model, expertise_reference),
        }
        roc = roc_block(data, roc_resamples, seeds[3])
        if roc is not None:
            result["roc"] = roc
        sides = side_bias(data)
        if sides is not None:
            result["side_bias"] = sides
        hype = hype_time(data, n_resamples, seeds[4])
        if hype is not None:
            result["hype_time"] = hype
            times = {row["generator"]: row for row in hype["by_generator"]}
            for row in result["by_generator"]:
                row["hype_time"] = times.get(row["generator"])
    return _json(result)


def _json(value: object) -> object:
    """Plain Python values only; NaN and infinities become None."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)
