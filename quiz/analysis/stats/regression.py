"""The logistic models of "answered correctly" and of "called real", and the GEE they share.

A logistic model of "answered correctly" (fixed effects: expertise group and the panel's class)
and one of "called real" over synthetic panels (fixed effects: expertise group and the generator
when the study has two or more, its checkpoints pooled; with one generator, its checkpoint when
its images come from several), with random intercepts for
participant and for image, statsmodels `BinomialBayesMixedGLM`, in two steps. Its joint
posterior mode (`fit_map`) shrinks the random-effect SDs towards 0 when participants have few
trials, and its variational fit (`fit_vb`) gets those SDs right but understates the fixed
effects' uncertainty several-fold (mean-field: it ignores their correlation with the random
effects). So the SDs come from `fit_vb`, and the fixed effects from the Laplace approximation
(`fit_map`) with those SDs held fixed, as lme4 reports fixed effects given its variance
estimates. Priors: N(0, 2²) on fixed effects, log-SD N(0, 0.5²). Estimates are posterior modes,
CIs ±1.96 posterior SD, p-values the matching normal tails.

The cost grows as (random effects × trials); above `MIXED_MODEL_MAX_WORK`, or when the fit
fails, the model is a logistic GEE with independence working correlation and two-way
cluster-robust SEs, participant and image (statsmodels GLM, `cov_type="cluster"`):
population-averaged effects, both crossed sources of dependence in the SEs. (A GEE with
participant clusters only puts run effects' SEs at a fifth of the mixed model's: a run's images
are its replicates.) `model["method"]` ("mixed" or "clustered") and `model["reason"]` say which.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats
from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM
from statsmodels.genmod.cov_struct import Exchangeable
from statsmodels.genmod.families import Binomial
from statsmodels.genmod.generalized_estimating_equations import GEE
from statsmodels.genmod.generalized_linear_model import GLM

from quiz.analysis.stats.rows import REAL, SYNTHETIC, Trials

Z_95 = stats.norm.ppf(0.975)
# (random effects × trials) above which the mixed model takes too long, mostly in fit_vb
# (benchmarks/bench_stats.py: 200 participants × 200 trials fit; 2,000 × 100 would take minutes).
MIXED_MODEL_MAX_WORK = 50_000_000


@dataclass(frozen=True)
class Fit:
    """A fitted model's fixed effects: estimate and SD per column of the design, by name."""

    params: np.ndarray
    sd: np.ndarray
    names: list[str]
    random_effects_sd: dict | None = None


def models(data: Trials, method: str, reference: str | None) -> dict:
    """Both outcomes' models, by `method`: "auto", "mixed", "clustered" or "none"."""
    result = {"method": None, "description": None, "reason": None}
    if method == "none":
        result["reason"] = "not requested"
        return result
    if len(data.participants) < 2:
        result["reason"] = "a model needs at least two participants"
        return result
    participants = np.bincount(data.expertise, minlength=len(data.expertise_levels))
    if reference not in data.expertise_levels:
        reference = data.expertise_levels[int(np.argmax(participants))]
    expertise = ("expertise", data.expertise[data.participant], data.expertise_levels, reference)
    source = _source_factor(data)
    everything = np.ones(data.n, dtype=bool)
    outcomes = {
        "correct": (
            "answered correctly",
            data.correct,
            everything,
            [expertise, ("class", data.synthetic.astype(int), [REAL, SYNTHETIC], REAL)],
        ),
        "called_real": (
            "called real (synthetic panels)",
            ~data.said_synthetic,
            data.synthetic,
            [expertise, source],
        ),
    }
    work = (len(data.participants) + len(data.images)) * data.n
    use_mixed = method == "mixed" or (method == "auto" and work <= MIXED_MODEL_MAX_WORK)
    if not use_mixed and method == "auto":
        result["reason"] = (
            f"{len(data.participants) + len(data.images)} random effects x {data.n} trials is "
            f"over the mixed model's budget ({MIXED_MODEL_MAX_WORK:.0e}): clustered model instead"
        )
    fits = {}
    if use_mixed:
        for key, (_, y, mask, factors) in outcomes.items():
            exog, names = _design(mask, factors)
            fits[key] = _mixed(y[mask], exog, data.participant[mask], data.image[mask], names)
        failed = [fit for fit in fits.values() if isinstance(fit, Failure) and fit.refit]
        if failed:
            # One method per report: a failed mixed fit sends both to the clustered model.
            use_mixed = False
            result["reason"] = (
                f"the mixed model could not be fitted ({failed[0]}): clustered model instead"
            )
    if not use_mixed:
        for key, (_, y, mask, factors) in outcomes.items():
            exog, names = _design(mask, factors)
            fits[key] = _clustered(y[mask], exog, data.participant[mask], data.image[mask], names)
    result["method"] = "mixed" if use_mixed else "clustered"
    result["description"] = _MIXED if use_mixed else _CLUSTERED
    result["expertise_reference"] = reference
    result["generator_reference"] = source[2][0] if source[2] else None
    for key, (label, _, mask, _) in outcomes.items():
        fit = fits[key]
        entry = {"outcome": label, "trials": int(mask.sum()), "coefficients": None}
        if isinstance(fit, Failure):
            entry["reason"] = str(fit)
        else:
            entry["coefficients"] = [
                coefficient(fit, i, *name.split("\x1f")) for i, name in enumerate(fit.names) if i
            ]
            entry["random_effects_sd"] = fit.random_effects_sd
        result[key] = entry
    return result


_MIXED = (
    "logistic mixed model, random intercepts for participant and image (statsmodels "
    "BinomialBayesMixedGLM): random-effect SDs from the variational fit, fixed effects from "
    "the Laplace approximation given those SDs; conditional effects; CI = posterior mode "
    "+/- 1.96 posterior SD, p = the matching normal tail"
)
_CLUSTERED = (
    "logistic GEE, independence working correlation, two-way cluster-robust SEs (participant "
    "and image; statsmodels GLM cov_type='cluster'); population-averaged effects"
)


@dataclass(frozen=True)
class Failure:
    """Why a model has no estimates; `refit` when another method may still fit it."""

    reason: str
    refit: bool = True

    def __str__(self) -> str:
        return self.reason


def _source_factor(data: Trials) -> tuple:
    """The "called real" model's factor for where a synthetic image came from.

    With two or more generators, the generator (a level each; the first is the reference). With
    one, the checkpoint ("name @ step") when its images come from several, so that a run's
    checkpoints are still compared; `_design` leaves out a factor with one level.
    """
    if len(data.generators) >= 2:
        return ("generator", data.generator, [str(name) for name in data.generators], None)
    names = [f"{name} @ {step}" for name, step in data.checkpoints]
    return ("checkpoint", data.checkpoint, names, None)


def _design(mask: np.ndarray, factors: list[tuple]) -> tuple[np.ndarray, list[str]]:
    """Intercept plus treatment dummies for each factor's levels present under `mask`.

    Names are "factor\x1flevel\x1freference"; a factor with one level present is left out.
    """
    rows = int(mask.sum())
    columns, names = [np.ones(rows)], ["intercept\x1f\x1f"]
    for factor, codes, levels, reference in factors:
        present = [int(c) for c in np.unique(codes[mask]) if c >= 0]
        if len(present) < 2:
            continue
        base = levels.index(reference) if reference in levels else present[0]
        base = base if base in present else present[0]
        for level in present:
            if level != base:
                columns.append((codes[mask] == level).astype(float))
                names.append(f"{factor}\x1f{levels[level]}\x1f{levels[base]}")
    return np.column_stack(columns), names


def _outcome_failure(y: np.ndarray, groups: np.ndarray) -> Failure | None:
    if not y.size:
        return Failure("no trials", refit=False)
    if y.all() or not y.any():
        return Failure("the outcome does not vary", refit=False)
    if np.unique(groups).size < 2:
        return Failure("fewer than two participants", refit=False)
    return None


def _mixed(
    y: np.ndarray, exog: np.ndarray, participant: np.ndarray, image: np.ndarray, names: list[str]
) -> Fit | Failure:
    failure = _outcome_failure(y, participant)
    if failure:
        return failure
    _, participant = np.unique(participant, return_inverse=True)
    _, image = np.unique(image, return_inverse=True)
    if image.max() < 1:
        return Failure("fewer than two images")
    rows, ones = np.arange(len(y)), np.ones(len(y))
    exog_vc = sparse.hstack(
        [
            sparse.csr_array((ones, (rows, participant))),  # (n, participants) one-hot
            sparse.csr_array((ones, (rows, image))),  # (n, images) one-hot
        ],
        format="csr",
    )
    ident = np.r_[np.zeros(participant.max() + 1, int), np.ones(image.max() + 1, int)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # 1. The random effects' SDs from the variational fit (the joint mode that fit_map
            #    finds collapses them towards 0 when participants have few trials).
            varying = BinomialBayesMixedGLM(y.astype(float), exog, exog_vc, ident, vcp_p=0.5)
            # A relative ELBO tolerance of 1e-6 puts the SDs within ~0.5% in half the time.
            vb = varying.fit_vb(fit_method="L-BFGS-B", minim_opts={"ftol": 1e-6}, rng=0)
            sd = np.exp(vb.vcp_mean)
            # 2. Fixed effects by the Laplace approximation with those SDs held fixed: each
            #    column scaled by its SD, log-SD pinned at 0 by a tight prior.
            scaled = (exog_vc @ sparse.diags_array(sd[ident])).tocsr()
            pinned = BinomialBayesMixedGLM(y.astype(float), exog, scaled, ident, vcp_p=0.01)
            fit = pinned.fit_map(rng=0)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError) as error:
            return Failure(str(error))
    covariance = np.asarray(fit.cov_params())
    if not (np.isfinite(covariance).all() and (np.diag(covariance) > 0).all()):
        return Failure("the posterior covariance is not positive definite")
    # BFGS often stops on "precision loss" at the mode; accept it when the Newton step left
    # is a hundredth of a posterior SD or less.
    step = np.abs(covariance @ fit.optim_retvals.jac) / np.sqrt(np.diag(covariance))
    if not fit.optim_retvals.success and step.max() > 0.01:
        return Failure(f"the optimiser stopped {step.max():.2g} posterior SDs from the mode")
    return Fit(
        params=fit.fe_mean,
        sd=fit.fe_sd,
        names=names,
        random_effects_sd={"participant": float(sd[0]), "image": float(sd[1])},
    )


def _clustered(
    y: np.ndarray, exog: np.ndarray, participant: np.ndarray, image: np.ndarray, names: list[str]
) -> Fit | Failure:
    failure = _outcome_failure(y, participant)
    if failure:
        return failure
    if np.unique(image).size < 2:
        return Failure("fewer than two images", refit=False)
    groups = np.column_stack(
        [np.unique(participant, return_inverse=True)[1], np.unique(image, return_inverse=True)[1]]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = GLM(y.astype(float), exog, family=Binomial()).fit(
                cov_type="cluster", cov_kwds={"groups": groups}
            )
        except (np.linalg.LinAlgError, ValueError) as error:
            return Failure(str(error), refit=False)
    params, sd = np.asarray(fit.params), np.asarray(fit.bse)
    if not (np.isfinite(params).all() and np.isfinite(sd).all()):
        return Failure("the fit did not converge", refit=False)
    return Fit(params=params, sd=sd, names=names)


def gee(y: np.ndarray, exog: np.ndarray, groups: np.ndarray, names: list[str]) -> Fit | Failure:
    """A logistic GEE, exchangeable within `groups` (the learning slope's model)."""
    failure = _outcome_failure(y, groups)
    if failure:
        return failure
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = GEE(
                y.astype(float), exog, groups=groups, family=Binomial(), cov_struct=Exchangeable()
            )
            fit = model.fit()
        except (np.linalg.LinAlgError, ValueError) as error:
            return Failure(str(error), refit=False)
    params, sd = np.asarray(fit.params), np.asarray(fit.bse)
    if not (np.isfinite(params).all() and np.isfinite(sd).all()):
        return Failure("the fit did not converge", refit=False)
    return Fit(params=params, sd=sd, names=names)


def coefficient(fit: Fit, i: int, factor: str, level: str, reference: str | None) -> dict:
    """Column i as log-odds and odds ratio, each with its 95% CI, and its normal p-value."""
    estimate, sd = float(fit.params[i]), float(fit.sd[i])
    low, high = estimate - Z_95 * sd, estimate + Z_95 * sd
    return {
        "factor": factor,
        "level": level,
        "reference": reference or None,
        "log_odds": estimate,
        "se": sd,
        "ci95": [low, high],
        "odds_ratio": _exp(estimate),
        "odds_ratio_ci95": [_exp(low), _exp(high)],
        "p": float(2 * stats.norm.sf(abs(estimate / sd))) if sd > 0 else None,
    }


def _exp(x: float) -> float | None:
    return math.exp(x) if x < 700 else None
