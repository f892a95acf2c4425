"""The analysis of a perceptual Turing test, with the participant as the unit.

Pure functions over trial rows: no Django here. `report(trials)` returns one JSON-ready dict
(floats, ints, strings, lists, dicts and None; never NaN or infinity) and never raises on the
shape of the data: no trials, one participant, everyone right, one answer only, one class
never shown all give defined output. Bad values (a label other than "real"/"synthetic", an
image shown with both labels) raise ValueError naming the trial.

Decisions, stated once here and returned in `report()["methods"]`:

* **The participant is the unit.** A headline figure's estimate is the mean over participants
  of each participant's own figure (a participant lacking the trials a figure needs, e.g. no
  real panel for d′, is left out of that figure only). Its 95% CI is the percentile interval of
  a participant-level (cluster) bootstrap: participants are resampled with replacement,
  `n_resamples` times (10,000 by default), seeded, all figures and runs from the same
  resamples (a matrix of how often each participant is drawn, in chunks). Beside it,
  `naive_ci95` is the Wilson interval on the pooled trials ("naive: trials independent"), for
  proportions only.
* **The test against chance** is a one-sample t-test of the participants' values against the
  figure's null value. A t-test rather than Wilcoxon because the estimand is the mean over
  participants (the bootstrap's, TOST's and the power analysis' too), whereas Wilcoxon tests a
  pseudo-median and handles poorly the many exact ties that discrete per-participant
  accuracies produce (a participant at exactly 50% is a zero difference). Null values:
  accuracy → `chance` (the design's, ½ by default); HYPE∞ error → 1 − `chance`;
  balanced accuracy, accuracy on real panels and fooling rate → ½ (an unbiased observer who
  cannot tell); d′ and c → 0. With fewer than two participants, or no spread between them,
  the t-test is undefined and the p-value is None.
* **Signal detection**: the signal is "synthetic". A hit is a synthetic panel called
  synthetic, a false alarm a real panel called synthetic. Rates take the log-linear
  correction (Hautus 1995: +0.5 to each count, +1 to each total), d′ = z(H) − z(F),
  c = −(z(H) + z(F)) / 2; a positive c is a bias towards answering "real". The correction
  keeps d′ finite; for a participant who gives one answer only it is exactly 0 only when
  they saw as many real as synthetic panels (it averages to 0 under the design, where the
  real count of a session is symmetric about half).
* **HYPE∞ error** (Zhou et al. 2019, HYPE: "the percentage of images, real and fake, that
  evaluators judge incorrectly" on a 50/50 set, averaged over evaluators with a bootstrap over
  evaluators): here 1 − accuracy per participant over all their test trials, averaged over
  participants. The design makes each trial real with probability ½, so this is their
  balanced set in expectation; 1 − balanced accuracy is the version immune to a session's
  imbalance.
* **By expertise**: the same headline figures per group, each with its own participant
  bootstrap inside the group. **By run**: the fooling rate per training run and per
  (run, checkpoint), from the joint participant bootstrap.
* **The model**: a logistic model of "answered correctly" (fixed effects: expertise group and
  the panel's class) and one of "called real" over synthetic panels (fixed effects: expertise
  group and generator = training run, or run @ checkpoint when a run has several), with random
  intercepts for participant and for image, statsmodels `BinomialBayesMixedGLM`, in two
  steps. Its joint posterior mode (`fit_map`) shrinks the random-effect SDs towards 0 when
  participants have few trials, and its variational fit (`fit_vb`) gets those SDs right but
  understates the fixed effects' uncertainty several-fold (mean-field: it ignores their
  correlation with the random effects). So the SDs come from `fit_vb`, and the fixed effects
  from the Laplace approximation (`fit_map`) with those SDs held fixed, as lme4 reports fixed
  effects given its variance estimates. Priors: N(0, 2²) on fixed effects, log-SD N(0, 0.5²).
  Estimates are posterior modes, CIs ±1.96 posterior SD, p-values the matching normal tails.
  The cost grows as (random effects × trials); above `MIXED_MODEL_MAX_WORK`, or when the fit
  fails, the model is a logistic GEE with independence working correlation and two-way
  cluster-robust SEs, participant and image (statsmodels GLM, `cov_type="cluster"`):
  population-averaged effects, both crossed sources of dependence in the SEs. (A GEE with
  participant clusters only puts run effects' SEs at a fifth of the mixed model's: a run's
  images are its replicates.) `model["method"]` ("mixed" or "clustered") and
  `model["reason"]` say which.
* **Agreement**: Fleiss' κ (statsmodels) when every participant rated the same images once
  each; Krippendorff's α, nominal (`krippendorff`) otherwise. Its CI resamples images (the
  rated units), `agreement_resamples` times (1,000), not participants: a participant drawn twice
  agrees with themselves, which inflates agreement by about one over the ratings per image.
* **Per image**: the share of trials judged real (synthetic images: the fooling rate) or
  judged synthetic (real images), Wilson CI, exact binomial test against ½, Benjamini–Hochberg
  over all images. "Hardest fakes" are synthetic images judged real more often than ½ at
  q < 0.05; when none is, the report says that no image stands out.
* **Position**: "real" answers and accuracy by panel letter, χ² tests of independence (trials
  treated as independent). **Learning**: accuracy by round with Wilson CIs, and the slope over
  round of a GEE logistic model with participant clusters. **Response times**: quantiles and a
  histogram, pooled medians of correct and wrong answers, and a Wilcoxon signed-rank test over
  participants of their median(correct) − median(wrong).
* **Equivalence**: TOST, two one-sided t-tests of participants' accuracies against
  `chance ± margin`. Verdict: "equivalent to chance" when both reject at α = 0.05 (the 90% CI
  lies inside the margin: any difference is smaller than the study called negligible);
  otherwise "different from chance" when the two-sided t-test rejects at α = 0.05; otherwise
  "inconclusive".
* **Power**: participants needed for a two-sided one-sample t-test (α = 0.05, 80% power) to
  detect a mean accuracy of 55% and 60% against `chance`, with the observed between-participant
  SD (which holds the within-participant binomial noise of this study's session length),
  statsmodels `TTestPower`; beside it the current n and its power.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

import krippendorff
import numpy as np
from scipy import sparse, stats
from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM
from statsmodels.genmod.cov_struct import Exchangeable
from statsmodels.genmod.families import Binomial
from statsmodels.genmod.generalized_estimating_equations import GEE
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.stats.inter_rater import fleiss_kappa
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.proportion import proportion_confint

REAL, SYNTHETIC = "real", "synthetic"
ALPHA = 0.05
Z_95 = stats.norm.ppf(0.975)
FIGURES = (
    "accuracy",
    "balanced_accuracy",
    "fooling_rate",
    "real_accuracy",
    "dprime",
    "criterion",
    "hype_error",
)
AGREEMENT_RESAMPLES = 1_000
POWER_TARGETS = (0.55, 0.60)
POWER = 0.8
# (random effects × trials) above which the mixed model takes too long, mostly in fit_vb
# (benchmarks/bench_stats.py: 200 participants × 200 trials fit; 2,000 × 100 would take minutes).
MIXED_MODEL_MAX_WORK = 50_000_000
# Bootstrap counts are drawn this many (resample, participant) cells at a time.
_BOOTSTRAP_CELLS = 2_000_000
_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_HISTOGRAM_BINS = 20

DPRIME_CONVENTION = (
    "signal = synthetic: hit = synthetic panel called synthetic, false alarm = real panel "
    "called synthetic; log-linear correction (Hautus 1995): +0.5 to hits and false alarms, "
    "+1 to the numbers of synthetic and real panels; d' = z(H) - z(F), c = -(z(H) + z(F)) / 2, "
    "c > 0 is a bias towards answering real"
)
METHODS = {
    "unit": "participant",
    "estimate": "mean over participants of each participant's figure",
    "ci95": "participant-level (cluster) bootstrap, percentile interval",
    "naive_ci95": "naive (trials independent): Wilson interval on pooled trials",
    "p_vs_chance": "one-sample t-test of participants' values against the figure's null value",
    "hype_error": "HYPE-infinity error (Zhou et al. 2019): 1 - accuracy per participant, "
    "real and synthetic panels together, averaged over participants",
    "agreement_ci95": "bootstrap over images (rated units)",
    "per_image_p": "exact binomial test against 0.5, Benjamini-Hochberg over all images",
    "position": "chi-squared tests of independence, trials treated as independent",
    "learning": "GEE logistic slope over round, participant clusters, exchangeable",
    "equivalence": "TOST: two one-sided t-tests over participants at chance +/- margin",
    "power": "statsmodels TTestPower, two-sided, alpha 0.05, power 0.8, observed SD",
}


@dataclass(frozen=True, slots=True)
class TrialRow:
    """One test trial: a participant's answer to one image."""

    participant: Hashable
    image: Hashable
    true_label: str
    answer: str
    expertise: str = ""
    training_run: Hashable | None = None
    checkpoint_step: int | None = None
    round: int = 1
    letter: str = ""
    response_ms: float | None = None

    @property
    def correct(self) -> bool:
        return self.answer == self.true_label


def report(
    trials: Iterable[TrialRow | Mapping | object],
    *,
    chance: float = 0.5,
    margin: float = 0.05,
    seed: int = 0,
    n_resamples: int = 10_000,
    agreement_resamples: int = AGREEMENT_RESAMPLES,
    model: str = "auto",
    expertise_reference: str | None = None,
) -> dict:
    """Every figure of the analysis, as a JSON-ready dict (see the module docstring).

    `trials` holds TrialRow objects, or any objects or mappings with the same field names.
    `model` is "auto" (the mixed model within MIXED_MODEL_MAX_WORK, else the clustered
    logistic model), "mixed", "clustered" or "none". `expertise_reference` is the models'
    reference group (default: the largest).
    """
    if model not in ("auto", "mixed", "clustered", "none"):
        raise ValueError(f"model must be auto, mixed, clustered or none, not {model!r}")
    data = _Trials.of(trials)
    seeds = np.random.SeedSequence(seed).spawn(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per = _PerParticipant.of(data)
        headline, by_run = _headline_and_runs(data, per, chance, n_resamples, seeds[0])
        result = {
            "participants": len(data.participants),
            "trials": data.n,
            "images": len(data.images),
            **headline,
            "dprime_convention": DPRIME_CONVENTION,
            "methods": METHODS,
            "settings": {
                "chance": chance,
                "margin": margin,
                "seed": seed,
                "n_resamples": n_resamples,
                "agreement_resamples": agreement_resamples,
                "alpha": ALPHA,
            },
            "by_expertise": _by_expertise(data, per, chance, n_resamples, seeds[1]),
            "by_run": by_run,
            "per_participant": _per_participant(data, per),
            "agreement": _agreement(data, agreement_resamples, np.random.default_rng(seeds[2])),
            "per_image": _per_image(data),
            "position": _position(data),
            "learning": _learning(data),
            "response_times": _response_times(data),
            "equivalence": _equivalence(per.values()["accuracy"], chance, margin),
            "power": _power(per.values()["accuracy"], chance),
            "model": _models(data, model, expertise_reference),
        }
    return _json(result)


# --- the trials as arrays ---------------------------------------------------------------------


def _sort_key(value: object) -> tuple:
    if value is None:
        return (0, 0, "")
    if isinstance(value, bool | int | float | np.integer | np.floating):
        return (1, value, "")
    return (2, 0, str(value))


def _codes(values: list) -> tuple[list, np.ndarray]:
    """The distinct values in a stable order, and each value's index among them."""
    labels = sorted(dict.fromkeys(values), key=_sort_key)
    index = {label: i for i, label in enumerate(labels)}
    return labels, np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def _column(records: list, name: str, default: object) -> list:
    """One field of every record; records are mappings or objects with attributes."""
    kinds = {type(record) for record in records}
    if not any(issubclass(kind, Mapping) for kind in kinds):
        return [getattr(record, name, default) for record in records]
    if all(issubclass(kind, Mapping) for kind in kinds):
        return [record.get(name, default) for record in records]
    return [
        record.get(name, default) if isinstance(record, Mapping) else getattr(record, name, default)
        for record in records
    ]


@dataclass(frozen=True)
class _Trials:
    n: int
    participant: np.ndarray  # (n,) index into participants
    participants: list
    image: np.ndarray  # (n,) index into images
    images: list
    synthetic: np.ndarray  # (n,) bool: the image is synthetic
    said_synthetic: np.ndarray  # (n,) bool: the answer was "synthetic"
    expertise: np.ndarray  # (P,) index into expertise_levels, each participant's first
    expertise_levels: list
    generator: np.ndarray  # (n,) index into generators; -1 on real panels
    generators: list  # (training_run, checkpoint_step) pairs
    round: np.ndarray  # (n,) int
    letter: np.ndarray  # (n,) index into letters
    letters: list
    response_ms: np.ndarray  # (n,) float, NaN where unknown

    @property
    def correct(self) -> np.ndarray:
        return self.synthetic == self.said_synthetic

    @classmethod
    def of(cls, trials: Iterable) -> _Trials:
        records = list(trials)
        columns = {
            name: _column(records, name, default)
            for name, default in (
                ("participant", None),
                ("image", None),
                ("true_label", None),
                ("answer", None),
                ("expertise", ""),
                ("training_run", None),
                ("checkpoint_step", None),
                ("round", 1),
                ("letter", ""),
                ("response_ms", None),
            )
        }
        for name in ("true_label", "answer"):
            for i, value in enumerate(columns[name]):
                if value not in (REAL, SYNTHETIC):
                    raise ValueError(
                        f"trial {i}: {name} must be 'real' or 'synthetic', not {value!r}"
                    )
        synthetic = np.array([v == SYNTHETIC for v in columns["true_label"]], dtype=bool)
        participants, participant = _codes(columns["participant"])
        images, image = _codes(columns["image"])
        shown = np.bincount(image, minlength=len(images))
        shown_synthetic = np.bincount(image, weights=synthetic, minlength=len(images))
        mixed = np.flatnonzero((shown_synthetic > 0) & (shown_synthetic < shown))
        if mixed.size:
            raise ValueError(f"image {images[mixed[0]]!r} is shown as both real and synthetic")
        levels, expertise = _codes([str(v or "") for v in columns["expertise"]])
        _, first = np.unique(participant, return_index=True)
        pairs = [
            (run, step) if is_synthetic else None
            for run, step, is_synthetic in zip(
                columns["training_run"], columns["checkpoint_step"], synthetic, strict=True
            )
        ]
        generators = sorted(
            {pair for pair in pairs if pair is not None},
            key=lambda pair: (_sort_key(pair[0]), _sort_key(pair[1])),
        )
        index = {pair: i for i, pair in enumerate(generators)}
        letters, letter = _codes([str(v or "") for v in columns["letter"]])
        return cls(
            n=len(records),
            participant=participant,
            participants=participants,
            image=image,
            images=images,
            synthetic=synthetic,
            said_synthetic=np.array([v == SYNTHETIC for v in columns["answer"]], dtype=bool),
            expertise=expertise[first],
            expertise_levels=levels,
            generator=np.array([index.get(pair, -1) for pair in pairs], dtype=np.int64),
            generators=generators,
            round=np.array([int(v) if v is not None else 1 for v in columns["round"]]),
            letter=letter,
            letters=letters,
            response_ms=np.array(
                [np.nan if v is None else float(v) for v in columns["response_ms"]], dtype=float
            ),
        )


@dataclass(frozen=True)
class _PerParticipant:
    trials: np.ndarray
    real: np.ndarray
    synthetic: np.ndarray
    hits: np.ndarray  # synthetic called synthetic
    false_alarms: np.ndarray  # real called synthetic

    @classmethod
    def of(cls, data: _Trials) -> _PerParticipant:
        count = len(data.participants)

        def per(weights: np.ndarray | None = None) -> np.ndarray:
            return np.bincount(data.participant, weights=weights, minlength=count)

        return cls(
            trials=per().astype(float),
            real=per(~data.synthetic),
            synthetic=per(data.synthetic),
            hits=per(data.synthetic & data.said_synthetic),
            false_alarms=per(~data.synthetic & data.said_synthetic),
        )

    @property
    def correct(self) -> np.ndarray:
        return self.hits + self.real - self.false_alarms

    def values(self) -> dict[str, np.ndarray]:
        """Each participant's figures; NaN where a figure needs trials they did not have."""
        both = (self.real > 0) & (self.synthetic > 0)
        accuracy = _ratio(self.correct, self.trials)
        real_accuracy = _ratio(self.real - self.false_alarms, self.real)
        synthetic_accuracy = _ratio(self.hits, self.synthetic)
        z_hit = stats.norm.ppf((self.hits + 0.5) / (self.synthetic + 1))
        z_false_alarm = stats.norm.ppf((self.false_alarms + 0.5) / (self.real + 1))
        return {
            "accuracy": accuracy,
            "balanced_accuracy": (real_accuracy + synthetic_accuracy) / 2,
            "fooling_rate": 1 - synthetic_accuracy,
            "real_accuracy": real_accuracy,
            "dprime": np.where(both, z_hit - z_false_alarm, np.nan),
            "criterion": np.where(both, -(z_hit + z_false_alarm) / 2, np.nan),
            "hype_error": 1 - accuracy,
            "hit_rate": synthetic_accuracy,
            "false_alarm_rate": 1 - real_accuracy,
        }

    def pooled(self, mask: np.ndarray) -> dict[str, tuple[float, float]]:
        """(successes, trials) over the masked participants, for the Wilson intervals."""
        trials, real, synthetic = self.trials[mask], self.real[mask], self.synthetic[mask]
        correct = self.correct[mask]
        return {
            "accuracy": (correct.sum(), trials.sum()),
            "fooling_rate": ((synthetic - self.hits[mask]).sum(), synthetic.sum()),
            "real_accuracy": ((real - self.false_alarms[mask]).sum(), real.sum()),
            "hype_error": ((trials - correct).sum(), trials.sum()),
        }


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def _null_values(chance: float) -> dict[str, float]:
    return {
        "accuracy": chance,
        "balanced_accuracy": 0.5,
        "fooling_rate": 0.5,
        "real_accuracy": 0.5,
        "dprime": 0.0,
        "criterion": 0.0,
        "hype_error": 1 - chance,
    }


# --- the participant bootstrap ----------------------------------------------------------------


def participant_bootstrap(
    values: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Means over resampled participants: (n_resamples, figures) from (participants, figures).

    NaN marks a participant without a value for a figure; each resample's mean is over the
    drawn participants that have one (NaN when none has). The resampling counts are drawn in
    chunks, so memory stays near _BOOTSTRAP_CELLS whatever the study's size.
    """
    values = np.asarray(values, dtype=float)
    values = values[:, None] if values.ndim == 1 else values
    count = len(values)
    means = np.full((n_resamples, values.shape[1]), np.nan)
    if count == 0:
        return means
    defined = ~np.isnan(values)
    filled = np.where(defined, values, 0.0)
    chunk = max(1, _BOOTSTRAP_CELLS // count)
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        # How often each participant is drawn in each resample: (size, participants) counts.
        drawn = rng.integers(0, count, size=(size, count)) + np.arange(size)[:, None] * count
        weights = np.bincount(drawn.ravel(), minlength=size * count).reshape(size, count)
        weights = weights.astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[start : start + size] = (weights @ filled) / (weights @ defined)
    return means


def _figure(
    values: np.ndarray,
    resampled: np.ndarray,
    null: float,
    pooled: tuple[float, float] | None = None,
) -> dict:
    """One headline figure: estimate, bootstrap CI, naive Wilson CI, t-test against `null`."""
    defined = values[~np.isnan(values)]
    draws = resampled[~np.isnan(resampled)]
    result = {
        "estimate": float(defined.mean()) if defined.size else None,
        "ci95": (
            [float(x) for x in np.percentile(draws, [2.5, 97.5])]
            if defined.size >= 2 and draws.size
            else None
        ),
        "naive_ci95": None,
        "p_vs_chance": _ttest(defined, null),
        "null": null,
        "participants": int(defined.size),
    }
    if pooled is not None:
        successes, trials = pooled
        result["pooled"] = successes / trials if trials else None
        result["naive_ci95"] = _wilson(successes, trials)
    return result


def _wilson(successes: float, trials: float) -> list[float] | None:
    if not trials:
        return None
    low, high = proportion_confint(successes, trials, method="wilson")
    return [float(low), float(high)]


def _ttest(values: np.ndarray, null: float, alternative: str = "two-sided") -> float | None:
    if values.size < 2 or np.ptp(values) == 0:
        return None
    return float(stats.ttest_1samp(values, null, alternative=alternative).pvalue)


def _headline_and_runs(
    data: _Trials,
    per: _PerParticipant,
    chance: float,
    n_resamples: int,
    seed: np.random.SeedSequence,
) -> tuple[dict, list]:
    """The headline figures and the per-run fooling rates, from one joint bootstrap."""
    values = per.values()
    runs, run_of_generator = _codes([run for run, _ in data.generators])
    on_run = np.full(data.n, -1)
    on_run[data.generator >= 0] = run_of_generator[data.generator[data.generator >= 0]]
    run_rates, run_shown = _rates_by(data, on_run, len(runs))
    generator_rates, generator_shown = _rates_by(data, data.generator, len(data.generators))
    columns = np.column_stack([values[name] for name in FIGURES] + [run_rates, generator_rates])
    resampled = participant_bootstrap(columns, n_resamples, np.random.default_rng(seed))
    nulls = _null_values(chance)
    pooled = per.pooled(np.ones(len(data.participants), dtype=bool))
    headline = {
        name: _figure(values[name], resampled[:, i], nulls[name], pooled.get(name))
        for i, name in enumerate(FIGURES)
    }
    offset = len(FIGURES)
    by_run = []
    for r, run in enumerate(runs):
        checkpoints = []
        for g, (generator_run, step) in enumerate(data.generators):
            if generator_run != run:
                continue
            column = offset + len(runs) + g
            checkpoints.append(
                {
                    "checkpoint_step": step,
                    **_shown(data, data.generator == g, generator_shown[:, g]),
                    "fooling_rate": _figure(
                        generator_rates[:, g],
                        resampled[:, column],
                        0.5,
                        _fooled(data, data.generator == g),
                    ),
                }
            )
        by_run.append(
            {
                "training_run": run,
                **_shown(data, on_run == r, run_shown[:, r]),
                "fooling_rate": _figure(
                    run_rates[:, r], resampled[:, offset + r], 0.5, _fooled(data, on_run == r)
                ),
                "checkpoints": checkpoints,
            }
        )
    return headline, by_run


def _rates_by(data: _Trials, group: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Each participant's fooling rate on each group's images: (P, groups), and trials shown."""
    count = len(data.participants)
    on = group >= 0
    cell = data.participant[on] * groups + group[on]
    fooled = ~data.said_synthetic[on]
    shown = np.bincount(cell, minlength=count * groups).reshape(count, groups)
    judged_real = np.bincount(cell, weights=fooled, minlength=count * groups).reshape(count, groups)
    return _ratio(judged_real, shown), shown


def _shown(data: _Trials, mask: np.ndarray, shown: np.ndarray) -> dict:
    return {
        "participants": int((shown > 0).sum()),
        "trials": int(mask.sum()),
        "images": int(np.unique(data.image[mask]).size),
    }


def _fooled(data: _Trials, mask: np.ndarray) -> tuple[float, float]:
    return float((~data.said_synthetic[mask]).sum()), float(mask.sum())


def _by_expertise(
    data: _Trials,
    per: _PerParticipant,
    chance: float,
    n_resamples: int,
    seed: np.random.SeedSequence,
) -> list[dict]:
    values = per.values()
    nulls = _null_values(chance)
    rows = []
    for level, group_seed in zip(
        range(len(data.expertise_levels)), seed.spawn(len(data.expertise_levels)), strict=True
    ):
        members = data.expertise == level
        columns = np.column_stack([values[name][members] for name in FIGURES])
        resampled = participant_bootstrap(columns, n_resamples, np.random.default_rng(group_seed))
        pooled = per.pooled(members)
        rows.append(
            {
                "expertise": data.expertise_levels[level],
                "participants": int(members.sum()),
                "trials": int(per.trials[members].sum()),
                **{
                    name: _figure(
                        values[name][members], resampled[:, i], nulls[name], pooled.get(name)
                    )
                    for i, name in enumerate(FIGURES)
                },
            }
        )
    return rows


def _per_participant(data: _Trials, per: _PerParticipant) -> list[dict]:
    values = per.values()
    names = ("accuracy", "hit_rate", "false_alarm_rate", "dprime", "criterion")
    return [
        {
            "participant": participant,
            "expertise": data.expertise_levels[data.expertise[p]],
            "trials": int(per.trials[p]),
            "real": int(per.real[p]),
            "synthetic": int(per.synthetic[p]),
            **{name: values[name][p] for name in names},
        }
        for p, participant in enumerate(data.participants)
    ]


# --- agreement, images, position, learning, response times -------------------------------------


def _agreement(data: _Trials, resamples: int, rng: np.random.Generator) -> dict:
    """Fleiss' κ when everyone rated the same images once, else Krippendorff's α (nominal)."""
    images = len(data.images)
    cells = np.bincount(
        data.participant * images + data.image, minlength=len(data.participants) * images
    )
    same_images = bool(data.n) and bool((cells == 1).all())
    said_synthetic = np.bincount(data.image, weights=data.said_synthetic, minlength=images)
    table = np.column_stack(
        [np.bincount(data.image, minlength=images) - said_synthetic, said_synthetic]
    )
    result = {
        "method": "fleiss_kappa" if same_images else "krippendorff_alpha",
        "estimate": None,
        "ci95": None,
        "raters": len(data.participants),
        "units": images,
        "n_resamples": resamples,
        "reason": None,
    }
    if len(data.participants) < 2 or not (table.sum(axis=1) >= 2).any():
        result["reason"] = "agreement needs images rated by at least two participants"
        return result
    if (table.sum(axis=0) == 0).any():
        result["reason"] = "every answer was the same: agreement is undefined"
        return result
    table = table[table.sum(axis=1) >= 2]

    def agreement(counts: np.ndarray) -> float:
        if (counts.sum(axis=0) == 0).any():
            return math.nan
        if same_images:
            return float(fleiss_kappa(counts, method="fleiss"))
        return float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))

    result["estimate"] = agreement(table)
    if len(table) >= 2 and resamples:
        draws = rng.multinomial(len(table), np.full(len(table), 1 / len(table)), resamples)
        resampled = np.array([agreement(np.repeat(table, w, axis=0)) for w in draws])
        resampled = resampled[np.isfinite(resampled)]
        if resampled.size:
            result["ci95"] = [float(x) for x in np.percentile(resampled, [2.5, 97.5])]
    return result


def _per_image(data: _Trials) -> dict:
    count = len(data.images)
    shown = np.bincount(data.image, minlength=count)
    synthetic = np.bincount(data.image, weights=data.synthetic, minlength=count) > 0
    judged_real = np.bincount(data.image, weights=~data.said_synthetic, minlength=count)
    # Synthetic images: the share judged real (fooling); real images: the share judged synthetic.
    judged_wrong = np.where(synthetic, judged_real, shown - judged_real).astype(int)
    # The exact two-sided binomial test at ½ (scipy's binomtest), vectorised: the distribution
    # is symmetric, so the p-value is twice the smaller tail.
    p_values = np.minimum(
        1.0, 2 * stats.binom.cdf(np.minimum(judged_wrong, shown - judged_wrong), shown, 0.5)
    )
    q_values = multipletests(p_values, method="fdr_bh")[1] if count else p_values
    first = np.full(count, -1)
    first[data.image[::-1]] = np.arange(data.n)[::-1]
    low, high = proportion_confint(judged_wrong, np.maximum(shown, 1), method="wilson")
    rows = []
    for i, image in enumerate(data.images):
        generator = data.generator[first[i]]
        run, step = data.generators[generator] if generator >= 0 else (None, None)
        rows.append(
            {
                "image": image,
                "true_label": SYNTHETIC if synthetic[i] else REAL,
                "training_run": run,
                "checkpoint_step": step,
                "trials": int(shown[i]),
                "measure": "fooling_rate" if synthetic[i] else "judged_synthetic_rate",
                "rate": judged_wrong[i] / shown[i],
                "ci95": [low[i], high[i]],
                "p": p_values[i],
                "q": q_values[i],
            }
        )
    rows.sort(key=lambda row: (row["true_label"] != SYNTHETIC, -row["rate"], -row["trials"]))
    hardest = [
        row
        for row in rows
        if row["true_label"] == SYNTHETIC and row["q"] < ALPHA and row["rate"] > 0.5
    ]
    return {
        "images": rows,
        "hardest_fakes": hardest,
        "note": (
            None
            if hardest
            else f"No image stands out: no synthetic image is judged real more often than 50% "
            f"at q < {ALPHA} (Benjamini-Hochberg over {count} images)."
        ),
    }


def _position(data: _Trials) -> dict:
    rows = []
    said_real = np.bincount(data.letter, weights=~data.said_synthetic, minlength=len(data.letters))
    correct = np.bincount(data.letter, weights=data.correct, minlength=len(data.letters))
    real_shown = np.bincount(data.letter, weights=~data.synthetic, minlength=len(data.letters))
    shown = np.bincount(data.letter, minlength=len(data.letters))
    for i, letter in enumerate(data.letters):
        rows.append(
            {
                "letter": letter,
                "trials": int(shown[i]),
                "real_shown": real_shown[i] / shown[i],
                "real_answers": said_real[i] / shown[i],
                "real_answers_ci95": _wilson(said_real[i], shown[i]),
                "accuracy": correct[i] / shown[i],
                "accuracy_ci95": _wilson(correct[i], shown[i]),
            }
        )
    return {
        "letters": rows,
        "real_answers_test": _chi2(np.column_stack([said_real, shown - said_real])),
        "accuracy_test": _chi2(np.column_stack([correct, shown - correct])),
    }


def _chi2(table: np.ndarray) -> dict | None:
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return None
    result = stats.chi2_contingency(table)
    return {"chi2": result.statistic, "dof": int(result.dof), "p": result.pvalue}


def _learning(data: _Trials) -> dict:
    rounds = []
    for value in np.unique(data.round):
        mask = data.round == value
        correct = float(data.correct[mask].sum())
        rounds.append(
            {
                "round": int(value),
                "trials": int(mask.sum()),
                "participants": int(np.unique(data.participant[mask]).size),
                "accuracy": correct / mask.sum(),
                "ci95": _wilson(correct, mask.sum()),
            }
        )
    trend = None
    reason = None
    if len(rounds) < 2:
        reason = "fewer than two rounds"
    else:
        exog = np.column_stack([np.ones(data.n), data.round - data.round.mean()])
        fit = _gee(data.correct, exog, data.participant, ["intercept", "round"])
        if isinstance(fit, _Failure):
            reason = str(fit)
        else:
            trend = _coefficient(fit, 1, "round", "per round", None)
    return {"rounds": rounds, "trend": trend, "trend_reason": reason}


def _response_times(data: _Trials) -> dict:
    known = np.isfinite(data.response_ms) & (data.response_ms >= 0)
    times = data.response_ms[known]
    result = {
        "trials": int(times.size),
        "quantiles": None,
        "histogram": None,
        "median_correct_ms": None,
        "median_wrong_ms": None,
        "paired": None,
    }
    if not times.size:
        return result
    result["quantiles"] = {
        f"q{round(q * 100):02d}": float(np.quantile(times, q)) for q in _QUANTILES
    }
    counts, edges = np.histogram(times, bins=_HISTOGRAM_BINS, range=(0, np.quantile(times, 0.99)))
    result["histogram"] = {
        "edges_ms": edges,
        "counts": counts,
        "above": int((times > edges[-1]).sum()),
    }
    correct = data.correct[known]
    if correct.any():
        result["median_correct_ms"] = float(np.median(times[correct]))
    if (~correct).any():
        result["median_wrong_ms"] = float(np.median(times[~correct]))
    medians = _group_medians(
        times, data.participant[known] * 2 + correct, 2 * len(data.participants)
    )
    medians = medians.reshape(-1, 2)  # (participants, [wrong, correct])
    differences = medians[:, 1] - medians[:, 0]
    differences = differences[~np.isnan(differences)]
    paired = {
        "participants": int(differences.size),
        "median_difference_ms": float(np.median(differences)) if differences.size else None,
        "p": None,
        "test": "Wilcoxon signed-rank over participants of median(correct) - median(wrong)",
    }
    if np.count_nonzero(differences) >= 2:
        paired["p"] = float(stats.wilcoxon(differences).pvalue)
    result["paired"] = paired
    return result


def _group_medians(values: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """The median of `values` within each group 0..groups-1; NaN for an empty group."""
    order = np.lexsort((values, group))
    values, group = values[order], group[order]
    counts = np.bincount(group, minlength=groups)
    starts = np.cumsum(counts) - counts
    low = starts + np.maximum(counts - 1, 0) // 2
    high = starts + counts // 2
    medians = np.full(groups, np.nan)
    filled = counts > 0
    medians[filled] = (values[low[filled]] + values[np.minimum(high, len(values) - 1)[filled]]) / 2
    return medians


# --- equivalence and power ---------------------------------------------------------------------


def _equivalence(accuracy: np.ndarray, chance: float, margin: float) -> dict:
    values = accuracy[~np.isnan(accuracy)]
    low, high = chance - margin, chance + margin
    p_lower = _ttest(values, low, "greater")
    p_upper = _ttest(values, high, "less")
    p_different = _ttest(values, chance)
    result = {
        "bounds": [low, high],
        "participants": int(values.size),
        "estimate": float(values.mean()) if values.size else None,
        "ci90": None,
        "p_lower": p_lower,
        "p_upper": p_upper,
        "p_equivalence": None,
        "p_different": p_different,
        "verdict": "inconclusive",
        "rule": (
            f"equivalent to chance if both one-sided tests reject at {ALPHA} (90% CI inside the "
            f"bounds); else different from chance if the two-sided t-test rejects at {ALPHA}; "
            "else inconclusive"
        ),
    }
    if p_lower is None or p_upper is None:
        result["reason"] = "fewer than two participants, or no spread between them"
        return result
    result["p_equivalence"] = max(p_lower, p_upper)
    sem = stats.sem(values)
    half = stats.t.ppf(1 - ALPHA, values.size - 1) * sem
    result["ci90"] = [values.mean() - half, values.mean() + half]
    if result["p_equivalence"] < ALPHA:
        result["verdict"] = "equivalent to chance"
    elif p_different < ALPHA:
        result["verdict"] = "different from chance"
    return result


def _power(accuracy: np.ndarray, chance: float) -> dict:
    values = accuracy[~np.isnan(accuracy)]
    spread = float(values.std(ddof=1)) if values.size >= 2 else None
    targets = []
    for target in POWER_TARGETS:
        row = {"accuracy": target, "participants_needed": None, "power_at_current_n": None}
        if spread and target != chance:
            effect = abs(target - chance) / spread
            analysis = TTestPower()
            with warnings.catch_warnings():
                # The root finder gives up (NaN) when two participants already have the power.
                warnings.simplefilter("ignore")
                needed = analysis.solve_power(effect_size=effect, alpha=ALPHA, power=POWER)
            if np.isfinite(needed):
                row["participants_needed"] = max(2, math.ceil(float(needed)))
            elif analysis.power(effect_size=effect, nobs=2, alpha=ALPHA) >= POWER:
                row["participants_needed"] = 2
            row["power_at_current_n"] = float(
                analysis.power(effect_size=effect, nobs=values.size, alpha=ALPHA)
            )
        targets.append(row)
    return {
        "participants": int(values.size),
        "between_participant_sd": spread,
        "alpha": ALPHA,
        "power": POWER,
        "targets": targets,
    }


# --- the models --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fit:
    params: np.ndarray
    sd: np.ndarray
    names: list[str]
    random_effects_sd: dict | None = None


def _models(data: _Trials, method: str, reference: str | None) -> dict:
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
    generators = [_generator_name(data, g) for g in range(len(data.generators))]
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
            [expertise, ("generator", data.generator, generators, None)],
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
        failed = [fit for fit in fits.values() if isinstance(fit, _Failure) and fit.refit]
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
    result["generator_reference"] = generators[0] if generators else None
    for key, (label, _, mask, _) in outcomes.items():
        fit = fits[key]
        entry = {"outcome": label, "trials": int(mask.sum()), "coefficients": None}
        if isinstance(fit, _Failure):
            entry["reason"] = str(fit)
        else:
            entry["coefficients"] = [
                _coefficient(fit, i, *name.split("\x1f")) for i, name in enumerate(fit.names) if i
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
class _Failure:
    """Why a model has no estimates; `refit` when another method may still fit it."""

    reason: str
    refit: bool = True

    def __str__(self) -> str:
        return self.reason


def _generator_name(data: _Trials, g: int) -> str:
    run, step = data.generators[g]
    steps = [s for r, s in data.generators if r == run]
    return f"{run}" if len(steps) == 1 else f"{run} @ {step}"


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


def _outcome_failure(y: np.ndarray, groups: np.ndarray) -> _Failure | None:
    if not y.size:
        return _Failure("no trials", refit=False)
    if y.all() or not y.any():
        return _Failure("the outcome does not vary", refit=False)
    if np.unique(groups).size < 2:
        return _Failure("fewer than two participants", refit=False)
    return None


def _mixed(
    y: np.ndarray, exog: np.ndarray, participant: np.ndarray, image: np.ndarray, names: list[str]
) -> _Fit | _Failure:
    failure = _outcome_failure(y, participant)
    if failure:
        return failure
    _, participant = np.unique(participant, return_inverse=True)
    _, image = np.unique(image, return_inverse=True)
    if image.max() < 1:
        return _Failure("fewer than two images")
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
            return _Failure(str(error))
    covariance = np.asarray(fit.cov_params())
    if not (np.isfinite(covariance).all() and (np.diag(covariance) > 0).all()):
        return _Failure("the posterior covariance is not positive definite")
    # BFGS often stops on "precision loss" at the mode; accept it when the Newton step left
    # is a hundredth of a posterior SD or less.
    step = np.abs(covariance @ fit.optim_retvals.jac) / np.sqrt(np.diag(covariance))
    if not fit.optim_retvals.success and step.max() > 0.01:
        return _Failure(f"the optimiser stopped {step.max():.2g} posterior SDs from the mode")
    return _Fit(
        params=fit.fe_mean,
        sd=fit.fe_sd,
        names=names,
        random_effects_sd={"participant": float(sd[0]), "image": float(sd[1])},
    )


def _clustered(
    y: np.ndarray, exog: np.ndarray, participant: np.ndarray, image: np.ndarray, names: list[str]
) -> _Fit | _Failure:
    failure = _outcome_failure(y, participant)
    if failure:
        return failure
    if np.unique(image).size < 2:
        return _Failure("fewer than two images", refit=False)
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
            return _Failure(str(error), refit=False)
    params, sd = np.asarray(fit.params), np.asarray(fit.bse)
    if not (np.isfinite(params).all() and np.isfinite(sd).all()):
        return _Failure("the fit did not converge", refit=False)
    return _Fit(params=params, sd=sd, names=names)


def _gee(y: np.ndarray, exog: np.ndarray, groups: np.ndarray, names: list[str]) -> _Fit | _Failure:
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
            return _Failure(str(error), refit=False)
    params, sd = np.asarray(fit.params), np.asarray(fit.bse)
    if not (np.isfinite(params).all() and np.isfinite(sd).all()):
        return _Failure("the fit did not converge", refit=False)
    return _Fit(params=params, sd=sd, names=names)


def _coefficient(fit: _Fit, i: int, factor: str, level: str, reference: str | None) -> dict:
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


# --- JSON --------------------------------------------------------------------------------------


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
