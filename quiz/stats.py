"""Statistics of a study's perceptual Turing test, over the guesses of submitted rounds only.

A trial is one panel of one submitted round. Signal-detection terms treat "synthetic" as the
signal: a hit is a synthetic panel called synthetic, a false alarm a real panel called synthetic.
The fooling rate of a generator is the share of its images judged real.

Practice trials and catch trials are recorded but are not trials of the test: every figure is
computed over test trials only. Catch trials decide exclusions (the study's rule, fixed before
publishing); the page shows the figures with and without the excluded participants.
"""

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from quiz.models import Answer, Expertise, ImageKind

Z_95 = 1.959964
CHANCE = 0.5
_STANDARD_NORMAL = statistics.NormalDist()
# A fake judged real in 1 of 1 trials says little; rank only images seen at least this often.
HARDEST_FAKES_MIN_TRIALS = 3
HARDEST_FAKES_SHOWN = 10

# A response faster than this cannot follow from looking at the image (simple visual reaction
# times alone are ~200 ms); a participant most of whose answers are faster is flagged.
MIN_PLAUSIBLE_RESPONSE_MS = 200
# A participant whose accuracy is this unlikely given everyone else's (one-sided binomial test,
# Bonferroni over participants) is flagged for review: a leak or shared answer key looks so.
OUTLIER_ALPHA = 0.01


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval; with no trials, the uninformative (0, 1).

    Wilson rather than the normal approximation because it stays inside [0, 1] and keeps its
    coverage near 0% and 100%, where fooling rates of poor or excellent generators sit.
    """
    if n == 0:
        return 0.0, 1.0
    rate = successes / n
    denominator = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denominator
    half_width = z / denominator * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


def binomial_test(successes: int, n: int) -> float:
    """Exact two-sided p-value of `successes` in `n` trials against chance (p = 0.5).

    Under p = 0.5 the distribution is symmetric, so the two-sided p-value is twice the smaller
    tail. Terms are summed in log space so that studies with many thousands of trials neither
    overflow nor underflow.
    """
    if n == 0:
        return 1.0
    k = min(successes, n - successes)
    if 2 * k == n:
        return 1.0
    log_terms = [_log_comb(n, i) - n * math.log(2) for i in range(k + 1)]
    largest = max(log_terms)
    tail = math.exp(largest) * math.fsum(math.exp(term - largest) for term in log_terms)
    return min(1.0, 2 * tail)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


@dataclass(frozen=True)
class Proportion:
    """A share of trials with its Wilson 95% interval; `rate` is None when there are no trials."""

    successes: int
    n: int
    rate: float | None
    low: float
    high: float

    @classmethod
    def of(cls, successes: int, n: int) -> "Proportion":
        low, high = wilson_interval(successes, n)
        return cls(successes, n, successes / n if n else None, low, high)

    def __str__(self) -> str:
        if self.rate is None:
            return "no trials"
        return f"{self.rate:.1%} (95% CI {self.low * 100:.1f}–{self.high * 100:.1f}%)"


@dataclass(frozen=True)
class Sensitivity:
    """d' and criterion c, with the log-linear correction so that 0% or 100% stay finite.

    Hautus (1995): add 0.5 to each count and 1 to each total. A positive criterion is a bias
    towards answering "real".
    """

    d_prime: float
    criterion: float


def sensitivity(hits: int, synthetic: int, false_alarms: int, real: int) -> Sensitivity | None:
    """None when either kind was never shown: d' compares the two."""
    if not synthetic or not real:
        return None
    z_hit = _STANDARD_NORMAL.inv_cdf((hits + 0.5) / (synthetic + 1))
    z_false_alarm = _STANDARD_NORMAL.inv_cdf((false_alarms + 0.5) / (real + 1))
    return Sensitivity(z_hit - z_false_alarm, -(z_hit + z_false_alarm) / 2)


@dataclass(frozen=True, slots=True)
class Trial:
    """One answered panel of a submitted round, with the provenance of its image."""

    participant_id: int
    expertise: str
    round_id: int
    submitted_at: datetime
    letter: str
    image_id: int
    truth: str
    training_run_id: int | None
    training_run_name: str | None
    checkpoint_step: int | None
    seed: int | None
    answer: str
    response_ms: int | None
    years_experience: int | None = None
    round_index: int = 0
    is_practice: bool = False
    is_catch: bool = False
    exposure_ms: int | None = None
    exposure_limit_ms: int | None = None
    layout: str = ""
    feedback: str = ""

    @property
    def is_test(self) -> bool:
        return not (self.is_practice or self.is_catch)

    @property
    def correct(self) -> bool:
        # Derived rather than read from Guess.correct: the image's kind is the one source of truth.
        return self.answer == self.truth

    @property
    def fooled(self) -> bool:
        return self.truth == ImageKind.SYNTHETIC and self.answer == Answer.REAL


@dataclass(frozen=True)
class RunRow:
    """How often one training run's images were judged real, overall and per checkpoint."""

    training_run_id: int
    name: str
    checkpoint_steps: tuple[int, ...]
    fooling: Proportion
    # (step, fooling rate) for each checkpoint; only filled when the run has more than one.
    by_checkpoint: tuple[tuple[int, Proportion], ...]


@dataclass(frozen=True)
class ExpertiseRow:
    expertise: str
    label: str
    participants: int
    accuracy: Proportion
    fooling: Proportion


@dataclass(frozen=True)
class FakeRow:
    image_id: int
    training_run_name: str
    checkpoint_step: int | None
    fooling: Proportion


@dataclass(frozen=True)
class StudySummary:
    participants: int
    rounds: int
    trials: int
    accuracy: Proportion
    accuracy_p_value: float
    real_accuracy: Proportion
    synthetic_accuracy: Proportion
    fooling: Proportion
    sensitivity: Sensitivity | None
    by_run: list[RunRow]
    by_expertise: list[ExpertiseRow]
    hardest_fakes: list[FakeRow]
    median_response_ms: float | None


def _count(trials: list[Trial], outcome: str) -> Proportion:
    return Proportion.of(sum(getattr(trial, outcome) for trial in trials), len(trials))


def summarize(
    trials: Iterable[Trial], min_fake_trials: int = HARDEST_FAKES_MIN_TRIALS
) -> StudySummary:
    """Every figure of the statistics page, from the test trials among `trials`."""
    trials = [trial for trial in trials if trial.is_test]
    real = [trial for trial in trials if trial.truth == ImageKind.REAL]
    synthetic = [trial for trial in trials if trial.truth == ImageKind.SYNTHETIC]
    accuracy = _count(trials, "correct")
    synthetic_accuracy = _count(synthetic, "correct")
    false_alarms = sum(not trial.correct for trial in real)
    times = [trial.response_ms for trial in trials if trial.response_ms is not None]
    return StudySummary(
        participants=len({trial.participant_id for trial in trials}),
        rounds=len({trial.round_id for trial in trials}),
        trials=len(trials),
        accuracy=accuracy,
        accuracy_p_value=binomial_test(accuracy.successes, accuracy.n),
        real_accuracy=_count(real, "correct"),
        synthetic_accuracy=synthetic_accuracy,
        fooling=_count(synthetic, "fooled"),
        sensitivity=sensitivity(
            synthetic_accuracy.successes, len(synthetic), false_alarms, len(real)
        ),
        by_run=_by_run(synthetic),
        by_expertise=_by_expertise(trials),
        hardest_fakes=_hardest_fakes(synthetic, min_fake_trials),
        median_response_ms=statistics.median(times) if times else None,
    )


def _by_run(synthetic: list[Trial]) -> list[RunRow]:
    runs: dict[int, list[Trial]] = defaultdict(list)
    for trial in synthetic:
        runs[trial.training_run_id].append(trial)
    rows = []
    for run_id in sorted(runs):
        run_trials = runs[run_id]
        checkpoints: dict[int, list[Trial]] = defaultdict(list)
        for trial in run_trials:
            checkpoints[trial.checkpoint_step].append(trial)
        steps = tuple(sorted(step for step in checkpoints if step is not None))
        by_checkpoint = (
            tuple((step, _count(checkpoints[step], "fooled")) for step in steps)
            if len(steps) > 1
            else ()
        )
        rows.append(
            RunRow(
                training_run_id=run_id,
                name=run_trials[0].training_run_name or f"run {run_id}",
                checkpoint_steps=steps,
                fooling=_count(run_trials, "fooled"),
                by_checkpoint=by_checkpoint,
            )
        )
    return rows


def _by_expertise(trials: list[Trial]) -> list[ExpertiseRow]:
    """One row per Expertise choice, empty ones included: "no sonographers took part" is news."""
    groups: dict[str, list[Trial]] = defaultdict(list)
    for trial in trials:
        groups[trial.expertise].append(trial)
    rows = []
    for value, label in Expertise.choices:
        group = groups.get(value, [])
        synthetic = [trial for trial in group if trial.truth == ImageKind.SYNTHETIC]
        rows.append(
            ExpertiseRow(
                expertise=value,
                label=label,
                participants=len({trial.participant_id for trial in group}),
                accuracy=_count(group, "correct"),
                fooling=_count(synthetic, "fooled"),
            )
        )
    return rows


def _hardest_fakes(synthetic: list[Trial], min_trials: int) -> list[FakeRow]:
    images: dict[int, list[Trial]] = defaultdict(list)
    for trial in synthetic:
        images[trial.image_id].append(trial)
    rows = [
        FakeRow(
            image_id=image_id,
            training_run_name=image_trials[0].training_run_name or "",
            checkpoint_step=image_trials[0].checkpoint_step,
            fooling=_count(image_trials, "fooled"),
        )
        for image_id, image_trials in images.items()
        if len(image_trials) >= min_trials
    ]
    # An image never judged real is no hard fake. Most often judged real first; among equal
    # rates, the better-attested image first.
    rows = [row for row in rows if row.fooling.successes]
    rows.sort(key=lambda row: (-row.fooling.rate, -row.fooling.n, row.image_id))
    return rows[:HARDEST_FAKES_SHOWN]


@dataclass(frozen=True)
class Exclusion:
    participant_id: int
    catch_called_real: int
    catch_trials: int


def catch_exclusions(trials: Iterable[Trial], max_real: int) -> list[Exclusion]:
    """Participants who called more than `max_real` catch images real (the study's rule)."""
    called_real: dict[int, int] = defaultdict(int)
    shown: dict[int, int] = defaultdict(int)
    for trial in trials:
        if trial.is_catch:
            shown[trial.participant_id] += 1
            called_real[trial.participant_id] += trial.answer == Answer.REAL
    return [
        Exclusion(pid, called_real[pid], shown[pid])
        for pid in sorted(shown)
        if called_real[pid] > max_real
    ]


@dataclass(frozen=True)
class Flag:
    participant_id: int
    reason: str


def flag_participants(trials: Iterable[Trial]) -> list[Flag]:
    """Participants whose answers need a look before they are trusted (not an exclusion rule).

    Two signs: an accuracy far above everyone else's (a one-sided exact binomial test against
    the other participants' pooled accuracy, Bonferroni over participants), and answers faster
    than a person can look at an image (most responses under MIN_PLAUSIBLE_RESPONSE_MS).
    """
    from scipy.stats import binomtest  # loaded by the statistics page, not by every process

    by_participant: dict[int, list[Trial]] = defaultdict(list)
    for trial in trials:
        if trial.is_test:
            by_participant[trial.participant_id].append(trial)
    total_correct = sum(t.correct for group in by_participant.values() for t in group)
    total = sum(len(group) for group in by_participant.values())
    flags = []
    for pid, group in sorted(by_participant.items()):
        correct = sum(trial.correct for trial in group)
        others_n = total - len(group)
        if others_n:
            others_rate = min(max((total_correct - correct) / others_n, 1e-6), 1 - 1e-6)
            p = binomtest(correct, len(group), others_rate, alternative="greater").pvalue
            if p * len(by_participant) < OUTLIER_ALPHA:
                flags.append(
                    Flag(
                        pid,
                        f"accuracy {correct}/{len(group)} against {others_rate:.0%} for everyone "
                        f"else (p = {p:.1e}, Bonferroni over {len(by_participant)})",
                    )
                )
        times = [trial.response_ms for trial in group if trial.response_ms is not None]
        fast = sum(time < MIN_PLAUSIBLE_RESPONSE_MS for time in times)
        if times and fast > len(times) / 2:
            flags.append(
                Flag(pid, f"{fast} of {len(times)} answers under {MIN_PLAUSIBLE_RESPONSE_MS} ms")
            )
    return flags
