"""The oracle check: can feedback pooled across sessions tell which images are real?

Every participant is served the same bytes for the same image, so an attacker recognises an
image in any session by its pixels (a hash will do). Whatever the pages then reveal about a set
of trials is an equation in the truths of those images: a score of k out of n is one linear
equation, an answer key n of them. A script that takes the quiz many times, answering at random,
collects such equations until it can solve for every truth, and a fresh session answered from
the solution scores far above chance without looking at a pixel.

The check plays that attack against the study's own design: sessions drawn by quiz.studies.design
and filled by quiz.studies.rounds.fill_slots (least-shown first, the generators balanced within
each session), answered at random, with exactly
what the policy's pages show (`Feedback.after_round`, `Feedback.at_end`; the views render the same
flags). After each number of sessions it fits the truths by bounded least squares (pulled gently
towards "unknown") and scores a fresh session answered from the fit against the true kinds: its
expected accuracy is the mean of the accuracy on real and on synthetic images, as each trial is real
with probability ½. The policy *breaks* when that accuracy exceeds chance by more than the study's
equivalence margin, the smallest difference the study claims to detect.

Side by side (two-alternative forced choice) the attacker picks one image of each pair at random:
a score is then Σ truth(chosen), a key the truths of both images, and the fresh session picks the
image of each pair with the higher fitted truth, so its accuracy is the fit's AUC between real and
synthetic images (ties count ½). Under adaptive exposure (HYPE-time) the next exposure of a
staircase tells whether the answer before was right (quiz.studies.staircase: a wrong answer
lengthens it, a right one shortens it or keeps it), and with the attacker's own answer that is the
truth of the trial's images: the check counts it as an answer key after every trial, whatever
the feedback policy.

It is a lower bound on what an attacker learns: a cleverer one chooses answers that separate
images faster, or adds the truths that real participants post online.
"""

import random
from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np

from quiz.models import Feedback, ImageKind, Layout, Reveal, Study
from quiz.studies.design import (
    CATCH,
    CHANCE,
    REAL,
    SYNTHETIC,
    DesignError,
    paired_session_design,
    session_design,
    session_length,
)
from quiz.studies.rounds import fill_slots
from quiz.studies.rules import study_images

# A key is the truth itself: weighted far above a score's equation in the fit.
_KEY_WEIGHT = 10.0
# The pull towards ½ ("unknown") that keeps an image no equation determines at ½.
_RIDGE = 1e-3
# A fitted truth this close to ½ is no answer: the fresh session guesses it.
_UNDECIDED = 1e-3


@dataclass(frozen=True)
class Equation:
    """What one page revealed: Σ coefficient × truth = total over `images` (truth 1 real, 0 not)."""

    images: tuple[int, ...]
    coefficients: tuple[float, ...]
    total: float
    weight: float = 1.0


@dataclass
class OracleCheck:
    """How fast pooled feedback breaks a study, as `check` measured it."""

    policy: str
    sessions: int  # sessions played: the study's expected participants
    threshold: float  # chance plus the study's equivalence margin
    broken_after: int | None  # the first number of sessions after which a fresh one beats it
    accuracy_at_break: float | None
    accuracy_after_all: float
    curve: list[tuple[int, float]] = field(default_factory=list)  # (sessions, fresh accuracy)

    @property
    def broken(self) -> bool:
        return self.broken_after is not None

    def as_dict(self) -> dict:
        return {
            "policy": self.policy,
            "sessions": self.sessions,
            "threshold": self.threshold,
            "broken_after": self.broken_after,
            "accuracy_at_break": self.accuracy_at_break,
            "accuracy_after_all": self.accuracy_after_all,
            "curve": [list(point) for point in self.curve],
        }

    def summary(self) -> str:
        policy = Feedback(self.policy).label
        if not self.broken:
            return (
                f"Oracle check of “{policy}”: after {self.sessions} sessions answered at random, "
                f"a fresh session answered from everything the pages showed scores "
                f"{self.accuracy_after_all:.0%} (chance {CHANCE:.0%}; breaks above "
                f"{self.threshold:.0%})."
            )
        return (
            f"Oracle check of “{policy}”: after {self.broken_after} session(s) answered at "
            f"random, a fresh session answered from everything the pages showed scores "
            f"{self.accuracy_at_break:.0%} instead of {CHANCE:.0%}, and "
            f"{self.accuracy_after_all:.0%} after {self.sessions} (the expected participants)."
        )


def study_oracle_check(study: Study, seed: int = 0) -> OracleCheck:
    """The check of a study's own pools, session length and policy."""
    images = study_images(study)
    return check(
        real=images.pools[ImageKind.REAL],
        synthetic=images.pools[ImageKind.SYNTHETIC],
        catch=images.catch,
        generator_of=images.generator_of,
        panels_per_round=study.panels_per_round,
        rounds_per_session=study.rounds_per_session,
        policy=Feedback(study.feedback),
        sessions=study.expected_participants,
        margin=study.equivalence_margin,
        seed=seed,
        paired=study.layout == Layout.PAIR,
        adaptive=study.adaptive_exposure,
    )


def check(
    *,
    real: list[int],
    synthetic: list[int],
    catch: list[int],
    panels_per_round: int,
    rounds_per_session: int | None,
    policy: Feedback,
    sessions: int,
    margin: float,
    seed: int = 0,
    generator_of: Mapping[int, Hashable] | None = None,
    paired: bool = False,
    adaptive: bool = False,
) -> OracleCheck:
    """Play `sessions` attacking sessions and find after how many a fresh session breaks.

    `generator_of` maps each synthetic image to its generator (default: all of one generator).
    `paired`: the side-by-side layout; `adaptive`: adaptive exposure (the module docstring).
    """
    rounds = session_length(
        panels_per_round, len(real), len(synthetic), len(catch), rounds_per_session, paired
    )
    truths = {pk: 1.0 for pk in real} | {pk: 0.0 for pk in synthetic} | {pk: 0.0 for pk in catch}
    rng = np.random.default_rng(seed)
    py_rng = random.Random(seed)
    shown: Counter = Counter()
    per_session = [
        _attacking_session(
            {REAL: real, SYNTHETIC: synthetic, CATCH: catch},
            generator_of or {},
            panels_per_round,
            rounds,
            policy,
            truths,
            shown,
            rng,
            py_rng,
            paired,
            adaptive,
        )
        for _ in range(sessions)
    ]
    threshold = CHANCE + margin
    variables = sorted(truths)

    def accuracy(played: int) -> float:
        equations = [eq for session in per_session[:played] for eq in session]
        fitted = fit_truths(equations, variables)
        return (_fresh_paired_accuracy if paired else _fresh_accuracy)(fitted, real, synthetic)

    curve: dict[int, float] = {}
    broken_after = None
    previous = 0
    for played in _schedule(sessions):
        curve[played] = accuracy(played)
        if curve[played] > threshold:
            # Sessions only add equations, so the first break lies after `previous`.
            low, high = previous, played
            while high - low > 1:
                middle = (low + high) // 2
                curve[middle] = accuracy(middle)
                low, high = (low, middle) if curve[middle] > threshold else (middle, high)
            broken_after = high
            break
        previous = played
    if sessions not in curve:
        curve[sessions] = accuracy(sessions)
    return OracleCheck(
        policy=str(policy.value),
        sessions=sessions,
        threshold=threshold,
        broken_after=broken_after,
        accuracy_at_break=curve[broken_after] if broken_after else None,
        accuracy_after_all=curve[sessions],
        curve=sorted(curve.items()),
    )


def _attacking_session(
    pools: dict[str, list[int]],
    generator_of: Mapping[int, Hashable],
    panels_per_round: int,
    rounds: int,
    policy: Feedback,
    truths: dict[int, float],
    shown: Counter,
    rng: np.random.Generator,
    py_rng: random.Random,
    paired: bool = False,
    adaptive: bool = False,
) -> list[Equation]:
    """One session answered at random: the equations its pages reveal."""
    after_round = policy.after_round
    if adaptive:
        after_round = Reveal(score=after_round.score, key=True)
    try:
        design = (paired_session_design if paired else session_design)(
            panels_per_round,
            rounds,
            len(pools[REAL]),
            len(pools[SYNTHETIC]),
            len(pools[CATCH]),
            rng,
        )
    except DesignError:
        return []
    seen: set[int] = set()
    # (image, +1 answered real / -1 synthetic); side by side, the image chosen as real, +1.
    session_trials: list[tuple[int, int]] = []
    session_images: list[int] = []
    equations = []
    for start in range(0, len(design), panels_per_round):
        slots = design[start : start + panels_per_round]
        images = fill_slots(slots, pools, generator_of, seen, shown, py_rng)
        for image in images:
            seen.add(image)
            shown[image] += 1
        if paired:
            trials = [(py_rng.choice(images[i : i + 2]), 1) for i in range(0, len(images), 2)]
        else:
            trials = [(image, py_rng.choice((1, -1))) for image in images]
        session_trials += trials
        session_images += images
        equations += _revealed(after_round, trials, truths, images)
    equations += _revealed(policy.at_end, session_trials, truths, session_images)
    return equations


def _revealed(
    reveal, trials: list[tuple[int, int]], truths: dict[int, float], images: list[int]
) -> list[Equation]:
    """The equations a page showing `reveal` about these trials (of these images) hands the
    attacker."""
    equations = []
    if reveal.score:
        # Answered real: correct when the truth is 1; answered synthetic: when it is 0. So the
        # score minus the synthetic answers is Σ sign × truth.
        correct = sum((truths[image] == 1.0) == (sign > 0) for image, sign in trials)
        synthetic_answers = sum(sign < 0 for _, sign in trials)
        equations.append(
            Equation(
                images=tuple(image for image, _ in trials),
                coefficients=tuple(float(sign) for _, sign in trials),
                total=float(correct - synthetic_answers),
            )
        )
    if reveal.key:
        equations += [
            Equation(images=(image,), coefficients=(1.0,), total=truths[image], weight=_KEY_WEIGHT)
            for image in images
        ]
    return equations


def fit_truths(equations: list[Equation], variables: list[int]) -> dict[int, float]:
    """Each image's truth in [0, 1] by bounded, ridge-regularised least squares."""
    from scipy.optimize import lsq_linear
    from scipy.sparse import coo_matrix, identity, vstack

    if not equations:
        return dict.fromkeys(variables, 0.5)
    column = {pk: i for i, pk in enumerate(variables)}
    rows, cols, values, targets = [], [], [], []
    for r, equation in enumerate(equations):
        for image, coefficient in zip(equation.images, equation.coefficients, strict=True):
            rows.append(r)
            cols.append(column[image])
            values.append(coefficient * equation.weight)
        targets.append(equation.total * equation.weight)
    n = len(variables)
    matrix = coo_matrix((values, (rows, cols)), shape=(len(equations), n))
    ridge = np.sqrt(_RIDGE)
    system = vstack([matrix, ridge * identity(n)]).tocsr()
    target = np.concatenate([targets, np.full(n, 0.5 * ridge)])
    solution = lsq_linear(system, target, bounds=(0.0, 1.0), lsmr_tol="auto").x
    return dict(zip(variables, solution.tolist(), strict=True))


def _fresh_accuracy(fitted: dict[int, float], real: list[int], synthetic: list[int]) -> float:
    """A fresh session's expected accuracy when it answers each image from the fit."""

    def credit(pk: int, truth: float) -> float:
        value = fitted[pk]
        if abs(value - 0.5) <= _UNDECIDED:
            return 0.5
        return 1.0 if (value > 0.5) == (truth == 1.0) else 0.0

    real_accuracy = np.mean([credit(pk, 1.0) for pk in real]) if real else 0.5
    synthetic_accuracy = np.mean([credit(pk, 0.0) for pk in synthetic]) if synthetic else 0.5
    return float((real_accuracy + synthetic_accuracy) / 2)


def _fresh_paired_accuracy(
    fitted: dict[int, float], real: list[int], synthetic: list[int]
) -> float:
    """Side by side: a fresh session picks the image of each pair with the higher fitted truth;
    over all (real, synthetic) pairs that is the fit's AUC, ties (undecided) counting ½."""
    from scipy.stats import rankdata

    if not real or not synthetic:
        return CHANCE

    def value(pk: int) -> float:
        return 0.5 if abs(fitted[pk] - 0.5) <= _UNDECIDED else fitted[pk]

    ranks = rankdata([value(pk) for pk in real] + [value(pk) for pk in synthetic])
    n_real, n_synthetic = len(real), len(synthetic)
    return float((ranks[:n_real].sum() - n_real * (n_real + 1) / 2) / (n_real * n_synthetic))


def _schedule(sessions: int) -> list[int]:
    """1, 2, … 10, then steps of about a quarter, up to `sessions`."""
    points, played = [], 1
    while played < sessions:
        points.append(played)
        played = played + 1 if played < 10 else int(played * 1.25)
    return [*points, sessions]


def oracle_rule(study: Study, result: OracleCheck) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the study's feedback policy, from its oracle check.

    A policy that the check breaks within the expected participants blocks publishing unless
    staff acknowledged the risk in writing; the acknowledgement is then a warning, and the
    report's methods print it.
    """
    problems, warnings = [], []
    if Feedback(study.feedback).reveals_truth:
        warnings.append(
            "Under an answer-key policy the truth of every image a session shows is public "
            "after that one session: anyone who posts the keys with the images hands every "
            "later participant the answers."
        )
    if not result.broken:
        return problems, warnings
    acknowledgement = study.oracle_risk_acknowledgement.strip()
    if acknowledgement:
        warnings.append(
            f"{result.summary()} Published under this acknowledgement: {acknowledgement}"
        )
    else:
        problems.append(
            f"{result.summary()} Pooled feedback is an oracle within the "
            f"{study.expected_participants} participants this study expects: choose “"
            f"{Feedback.SCORE_AT_CLOSE.label}” or “{Feedback.NONE.label}”, or state in “oracle "
            "risk acknowledgement” why the risk is acceptable for this study."
        )
    return problems, warnings
