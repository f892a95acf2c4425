"""The design of a session: how many trials it holds, and which are real, synthetic or catch.

Rules (docs/study-design.md explains why):
- No image is shown twice to a participant, so a session holds at most as many test trials as
  the pools allow: 2 × min(real, synthetic) plus one trial per catch image.
- The number of real trials K of a session's N test trials is drawn from Binomial(N, ½),
  truncated symmetrically to what the pools allow ([N − u, u] with u = min(real, synthetic, N)).
  The distribution is symmetric about N / 2 whatever the pool sizes, so each trial is real with
  probability exactly ½ and a participant without sensitivity has expected accuracy ½: the
  design's chance level is 50 %, and answering "real" to everything earns nothing.
- The trials are shuffled over the whole session, so the real share of a round varies, and no
  known per-round ratio lets a participant infer the last answers.
- With several generators in a study, each participant sees every generator equally often: each
  synthetic slot, as it is filled, goes to the generator this participant has seen least so far
  among those with an image left for them, ties drawn at random (`next_generator`). That is a
  randomised block design: every run of as many synthetic trials as there are generators holds
  each generator once, in random order, so the generators are balanced within each participant
  and over the course of the session (learning and fatigue fall on all alike), and the counts
  differ by at most one whatever the number of synthetic trials. A generator with too few
  images for its share is used up, and the rest share its slots. Which generator a synthetic
  panel comes from tells nothing about which panels are synthetic, so the blocks reveal
  nothing. With one generator, nothing is drawn: sessions are exactly as without this rule.
"""

import math
import random
from collections.abc import Collection, Hashable, Mapping

import numpy as np

REAL, SYNTHETIC, CATCH = "R", "S", "C"
CHANCE = 0.5


class DesignError(Exception):
    """The study's pools cannot fill the sessions it asks for."""


def max_rounds(panels: int, real: int, synthetic: int, catch: int) -> int:
    """The most rounds a session can hold without showing any image twice."""
    return (2 * min(real, synthetic) + catch) // panels


def session_length(
    panels: int, real: int, synthetic: int, catch: int, rounds: int | None = None
) -> int:
    """The number of rounds per session: the study's setting, checked, or the most possible."""
    most = max_rounds(panels, real, synthetic, catch)
    needed_rounds = rounds or 1
    if most < needed_rounds or needed_rounds * panels <= catch:
        test_trials = needed_rounds * panels - catch
        per_kind = -(-test_trials // 2)
        raise DesignError(
            f"a session of {needed_rounds} round{'s' if needed_rounds != 1 else ''} of "
            f"{panels} panels needs {catch} catch image(s) plus at least {per_kind} real and "
            f"{per_kind} synthetic images that are neither practice nor catch images; the "
            f"study has {real} real and {synthetic} synthetic"
            + ("" if needed_rounds * panels > catch else " (and more catch images than panels)")
        )
    return rounds or most


def real_count_weights(test_trials: int, usable: int) -> np.ndarray:
    """P(K = k) for k = N − u … u: Binomial(N, ½) truncated to [N − u, u], from exact integers.

    Binomial(N, ½) is C(N, k) / 2^N, so the truncated weights are C(N, k) over their sum. Not
    scipy.stats.binom: a consent must not import scipy (about a second of CPU, at the first
    consent of every gunicorn worker, while the worker's other requests wait).
    """
    ways = [math.comb(test_trials, k) for k in range(test_trials - usable, usable + 1)]
    total = sum(ways)
    return np.array([way / total for way in ways])


def session_design(
    panels: int, rounds: int, real: int, synthetic: int, catch: int, rng: np.random.Generator
) -> str:
    """One letter per panel of the session, in order: R real, S synthetic, C catch."""
    test_trials = rounds * panels - catch
    usable = min(real, synthetic, test_trials)
    if test_trials < 1 or test_trials > 2 * usable:
        raise DesignError(f"{test_trials} test trials cannot be drawn from these pools")
    counts = np.arange(test_trials - usable, usable + 1)
    n_real = int(rng.choice(counts, p=real_count_weights(test_trials, usable)))
    slots = np.array(
        [REAL] * n_real + [SYNTHETIC] * (test_trials - n_real) + [CATCH] * catch, dtype="<U1"
    )
    rng.shuffle(slots)
    return "".join(slots)


def next_generator(
    shown_so_far: Mapping[Hashable, int], available: Collection[Hashable], rng: random.Random
) -> Hashable:
    """The generator of a participant's next synthetic slot (the module docstring's rule).

    `shown_so_far` counts this participant's synthetic trials per generator; `available` are the
    generators with an image this participant has not seen. With one, no random number is drawn.
    """
    if not available:
        raise DesignError("no generator has an image left for this participant")
    fewest = min(shown_so_far.get(generator, 0) for generator in available)
    tied = sorted(
        (generator for generator in available if shown_so_far.get(generator, 0) == fewest),
        key=lambda generator: (generator is None, str(generator)),
    )
    return tied[0] if len(tied) == 1 else rng.choice(tied)
