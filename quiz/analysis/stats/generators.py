"""The figures per generator, and the generators compared pair by pair.

* **Per generator** (`by_generator`, one entry per generator, in name order): each participant's
  figures on that generator's images against the real images they saw, then the mean over
  participants with the participant bootstrap and the t-test of the headline
  (quiz.analysis.stats.headline):
  - `fooling_rate`: the share of the generator's panels judged real; null ½.
  - `balanced_accuracy`: the mean of the accuracy on real panels and on the generator's panels
    (not the plain accuracy over both: a session holds about as many real panels as synthetic
    ones of all generators together, so the plain accuracy of "real" to everything would be
    above ½ and depend on the number of generators); null ½.
  - `dprime` and `criterion`, with the headline's convention and correction, where the
    participant saw both real panels and the generator's; null 0.
  - Side by side (two-alternative forced choice), a generator's trials are the pairs whose
    synthetic image it made: `fooling_rate` is the share of them where that image was chosen as
    real, `balanced_accuracy` the proportion correct PC = 1 − fooling rate, `dprime` √2 · z(PC)
    (headline's convention and correction), `criterion` None (quiz.analysis.stats.headline).
  - `participants`, `trials` and `images`: who and what the figures rest on (synthetic trials of
    the generator). A training run trained here is a generator: its entry names the run
    (`training_run`) and lists its fooling rate per checkpoint (`checkpoints`).
* **Pairwise** (`generator_comparisons`, every pair a < b in the order of `by_generator`): the
  difference of fooling rates, a − b, within participant: each participant who saw both
  generators' panels contributes their own difference (sessions balance the generators, so
  nearly everyone does). The estimate is the mean of those differences, its 95% CI the
  participant bootstrap's percentile interval, `p` the one-sample t-test of the differences
  against 0 (the paired t-test), and `p_holm` that p-value adjusted by Holm's step-down over all
  pairs whose test is defined (statsmodels `multipletests(method="holm")`), which controls the
  family-wise error rate without assuming the comparisons independent.

Every column here comes from the same bootstrap resamples as the headline figures.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests

from quiz.analysis.stats.headline import (
    PerParticipant,
    figure,
    headline,
    headline_columns,
    paired_values,
    participant_bootstrap,
    ratio,
)
from quiz.analysis.stats.inference import ttest
from quiz.analysis.stats.rows import Trials

GENERATOR_FIGURES = ("fooling_rate", "balanced_accuracy", "dprime", "criterion")
_NULLS = {"fooling_rate": 0.5, "balanced_accuracy": 0.5, "dprime": 0.0, "criterion": 0.0}


class _PerGenerator:
    """Each participant's figures per generator, per checkpoint and per pair: the columns."""

    def __init__(self, data: Trials, per: PerParticipant) -> None:
        self.data = data
        shown, judged_real = _counts(data, data.generator, len(data.generators))
        hit_rate = ratio(shown - judged_real, shown)
        real_accuracy = ratio(per.real - per.false_alarms, per.real)[:, None]
        both = (per.real[:, None] > 0) & (shown > 0)
        z_hit = stats.norm.ppf((shown - judged_real + 0.5) / (shown + 1))
        z_false_alarm = stats.norm.ppf((per.false_alarms + 0.5) / (per.real + 1))[:, None]
        self.shown = shown
        if data.paired:
            own = paired_values(shown - judged_real, shown)
            self.values = {name: own[name] for name in GENERATOR_FIGURES}
        else:
            self.values = {
                "fooling_rate": 1 - hit_rate,
                "balanced_accuracy": (real_accuracy + hit_rate) / 2,
                "dprime": np.where(both, z_hit - z_false_alarm, np.nan),
                "criterion": np.where(both, -(z_hit + z_false_alarm) / 2, np.nan),
            }
        self.checkpoint_shown, fooled = _counts(data, data.checkpoint, len(data.checkpoints))
        self.checkpoint_rates = ratio(fooled, self.checkpoint_shown)
        self.pairs = list(combinations(range(len(data.generators)), 2))
        rates = self.values["fooling_rate"]
        self.differences = np.column_stack(
            [rates[:, a] - rates[:, b] for a, b in self.pairs]
            or [np.empty((len(data.participants), 0))]
        )

    @property
    def columns(self) -> np.ndarray:
        return np.column_stack(
            [self.values[name] for name in GENERATOR_FIGURES]
            + [self.checkpoint_rates, self.differences]
        )

    def entries(self, resampled: np.ndarray) -> list[dict]:
        """One entry per generator; `resampled` holds this object's columns, in order."""
        data, count = self.data, len(self.data.generators)
        checkpoint_offset = len(GENERATOR_FIGURES) * count
        rows = []
        for g, name in enumerate(data.generators):
            on = data.generator == g
            checkpoints = [
                {
                    "checkpoint_step": step,
                    **_sizes(data, data.checkpoint == c, self.checkpoint_shown[:, c]),
                    "fooling_rate": figure(
                        self.checkpoint_rates[:, c],
                        resampled[:, checkpoint_offset + c],
                        0.5,
                        _fooled(data, data.checkpoint == c),
                    ),
                }
                for c, (generator, step) in enumerate(data.checkpoints)
                if generator == name
            ]
            rows.append(
                {
                    "generator": name,
                    "training_run": data.generator_runs[g],
                    **_sizes(data, on, self.shown[:, g]),
                    **{
                        figure_name: figure(
                            self.values[figure_name][:, g],
                            resampled[:, i * count + g],
                            _NULLS[figure_name],
                            _fooled(data, on) if figure_name == "fooling_rate" else None,
                        )
                        for i, figure_name in enumerate(GENERATOR_FIGURES)
                    },
                    "checkpoints": checkpoints,
                }
            )
        return rows

    def comparisons(self, resampled: np.ndarray) -> list[dict]:
        """Every pair's difference of fooling rates, with Holm-adjusted p-values."""
        offset = len(GENERATOR_FIGURES) * len(self.data.generators) + len(self.data.checkpoints)
        rows = []
        for k, (a, b) in enumerate(self.pairs):
            differences = self.differences[:, k]
            defined = differences[~np.isnan(differences)]
            draws = resampled[:, offset + k]
            draws = draws[~np.isnan(draws)]
            rows.append(
                {
                    "generator_a": self.data.generators[a],
                    "generator_b": self.data.generators[b],
                    "measure": "fooling_rate(a) - fooling_rate(b), within participant",
                    "estimate": float(defined.mean()) if defined.size else None,
                    "ci95": (
                        [float(x) for x in np.percentile(draws, [2.5, 97.5])]
                        if defined.size >= 2 and draws.size
                        else None
                    ),
                    "p": ttest(defined, 0.0),
                    "p_holm": None,
                    "participants": int(defined.size),
                }
            )
        tested = [row for row in rows if row["p"] is not None]
        if tested:
            adjusted = multipletests([row["p"] for row in tested], method="holm")[1]
            for row, p in zip(tested, adjusted, strict=True):
                row["p_holm"] = float(p)
        return rows


def headline_and_generators(
    data: Trials,
    per: PerParticipant,
    chance: float,
    n_resamples: int,
    seed: np.random.SeedSequence,
) -> tuple[dict, list[dict], list[dict]]:
    """The headline figures, `by_generator` and `generator_comparisons`, from one bootstrap."""
    generators = _PerGenerator(data, per)
    own = headline_columns(per)
    resampled = participant_bootstrap(
        np.column_stack([own, generators.columns]), n_resamples, np.random.default_rng(seed)
    )
    width = own.shape[1]
    rest = resampled[:, width:]
    return (
        headline(per, resampled[:, :width], chance),
        generators.entries(rest),
        generators.comparisons(rest),
    )


def _counts(data: Trials, group: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per participant and group (P, groups): the group's panels shown, and those judged real."""
    count = len(data.participants)
    on = group >= 0
    cell = data.participant[on] * groups + group[on]
    shown = np.bincount(cell, minlength=count * groups).reshape(count, groups)
    judged_real = np.bincount(
        cell, weights=~data.said_synthetic[on], minlength=count * groups
    ).reshape(count, groups)
    return shown, judged_real


def _sizes(data: Trials, mask: np.ndarray, shown: np.ndarray) -> dict:
    return {
        "participants": int((shown > 0).sum()),
        "trials": int(mask.sum()),
        "images": int(np.unique(data.image[mask]).size),
    }


def _fooled(data: Trials, mask: np.ndarray) -> tuple[float, float]:
    return float((~data.said_synthetic[mask]).sum()), float(mask.sum())
