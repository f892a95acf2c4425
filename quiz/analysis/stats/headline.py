"""The headline figures, over all participants and by expertise group.

* **The participant is the unit.** A headline figure's estimate is the mean over participants
  of each participant's own figure (a participant lacking the trials a figure needs, e.g. no
  real panel for d′, is left out of that figure only). Its 95% CI is the percentile interval of
  a participant-level (cluster) bootstrap: participants are resampled with replacement,
  `n_resamples` times (10,000 by default), seeded, all figures and generators from the same
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
* **Two-alternative forced choice** (side by side, `Trials.paired`): each trial is a pair, one
  real and one synthetic image, and the participant picks the real one. The proportion correct
  PC is criterion-free: a bias towards one answer cannot raise it, and an observer who cannot
  tell scores ½ whatever they do (chance ½, whatever the study's yes/no chance). So here
  `accuracy` = `balanced_accuracy` = PC, `fooling_rate` = the share of pairs whose synthetic
  image was chosen as real = 1 − PC, `hype_error` = 1 − PC, and d′ = √2 · z(PC) (Macmillan &
  Creelman 2005, ch. 7: in 2AFC the two intervals' evidence is compared, so the difference has
  √2 times the yes/no noise), with the same log-linear correction of PC, (correct + ½) / (trials +
  1), which keeps d′ finite at PC = 0 or 1. There is no criterion c and no accuracy on real
  panels apart from PC (every trial holds one real panel): `criterion` and `real_accuracy` are
  None. Nulls as in yes/no: ½ for the proportions, 0 for d′.
* **By expertise**: the same headline figures per group, each with its own participant
  bootstrap inside the group. By generator: quiz.analysis.stats.generators, from the same
  resamples as the headline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from quiz.analysis.stats.inference import ttest, wilson
from quiz.analysis.stats.rows import Trials

FIGURES = (
    "accuracy",
    "balanced_accuracy",
    "fooling_rate",
    "real_accuracy",
    "dprime",
    "criterion",
    "hype_error",
)
DPRIME_CONVENTION_2AFC = (
    "two-alternative forced choice: d' = sqrt(2) * z(PC), PC the proportion of pairs whose real "
    "image was chosen, with the log-linear correction (correct + 0.5) / (trials + 1) "
    "(Macmillan & Creelman 2005); criterion-free: no c"
)
DPRIME_CONVENTION = (
    "signal = synthetic: hit = synthetic panel called synthetic, false alarm = real panel "
    "called synthetic; log-linear correction (Hautus 1995): +0.5 to hits and false alarms, "
    "+1 to the numbers of synthetic and real panels; d' = z(H) - z(F), c = -(z(H) + z(F)) / 2, "
    "c > 0 is a bias towards answering real"
)
# Bootstrap counts are drawn this many (resample, participant) cells at a time.
_BOOTSTRAP_CELLS = 2_000_000


@dataclass(frozen=True)
class PerParticipant:
    trials: np.ndarray
    real: np.ndarray
    synthetic: np.ndarray
    hits: np.ndarray  # synthetic called synthetic
    false_alarms: np.ndarray  # real called synthetic
    paired: bool = False  # two-alternative forced choice (the module docstring)

    @classmethod
    def of(cls, data: Trials) -> PerParticipant:
        count = len(data.participants)

        def per(weights: np.ndarray | None = None) -> np.ndarray:
            return np.bincount(data.participant, weights=weights, minlength=count)

        return cls(
            trials=per().astype(float),
            real=per(~data.synthetic),
            synthetic=per(data.synthetic),
            hits=per(data.synthetic & data.said_synthetic),
            false_alarms=per(~data.synthetic & data.said_synthetic),
            paired=data.paired,
        )

    @property
    def correct(self) -> np.ndarray:
        return self.hits + self.real - self.false_alarms

    def values(self) -> dict[str, np.ndarray]:
        """Each participant's figures; NaN where a figure needs trials they did not have."""
        if self.paired:
            return paired_values(self.correct, self.trials)
        both = (self.real > 0) & (self.synthetic > 0)
        accuracy = ratio(self.correct, self.trials)
        real_accuracy = ratio(self.real - self.false_alarms, self.real)
        synthetic_accuracy = ratio(self.hits, self.synthetic)
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


def paired_values(correct: np.ndarray, trials: np.ndarray) -> dict[str, np.ndarray]:
    """The figures of two-alternative forced choice from correct pairs out of trials."""
    pc = ratio(correct, trials)
    corrected = (correct + 0.5) / (trials + 1)
    missing = np.full(np.shape(pc), np.nan)
    return {
        "accuracy": pc,
        "balanced_accuracy": pc,
        "fooling_rate": 1 - pc,
        "real_accuracy": missing,
        "dprime": np.where(trials > 0, np.sqrt(2) * stats.norm.ppf(corrected), np.nan),
        "criterion": missing,
        "hype_error": 1 - pc,
        "hit_rate": pc,
        "false_alarm_rate": missing,
    }


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def null_values(chance: float) -> dict[str, float]:
    return {
        "accuracy": chance,
        "balanced_accuracy": 0.5,
        "fooling_rate": 0.5,
        "real_accuracy": 0.5,
        "dprime": 0.0,
        "criterion": 0.0,
        "hype_error": 1 - chance,
    }


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


def figure(
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
        "p_vs_chance": ttest(defined, null),
        "null": null,
        "participants": int(defined.size),
    }
    if pooled is not None:
        successes, trials = pooled
        result["pooled"] = successes / trials if trials else None
        result["naive_ci95"] = wilson(successes, trials)
    return result


def headline_columns(per: PerParticipant) -> np.ndarray:
    """Each participant's headline figures: (P, len(FIGURES)), for the joint bootstrap."""
    values = per.values()
    return np.column_stack([values[name] for name in FIGURES])


def headline(per: PerParticipant, resampled: np.ndarray, chance: float) -> dict:
    """The headline figures from their columns of the joint bootstrap (in FIGURES order)."""
    values = per.values()
    nulls = null_values(chance)
    pooled = per.pooled(np.ones(len(per.trials), dtype=bool))
    return {
        name: figure(values[name], resampled[:, i], nulls[name], pooled.get(name))
        for i, name in enumerate(FIGURES)
    }


def by_expertise(
    data: Trials,
    per: PerParticipant,
    chance: float,
    n_resamples: int,
    seed: np.random.SeedSequence,
) -> list[dict]:
    values = per.values()
    nulls = null_values(chance)
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
                    name: figure(
                        values[name][members], resampled[:, i], nulls[name], pooled.get(name)
                    )
                    for i, name in enumerate(FIGURES)
                },
            }
        )
    return rows


def per_participant(data: Trials, per: PerParticipant) -> list[dict]:
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
