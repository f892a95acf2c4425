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

Two-alternative forced choice (the side-by-side layout, `paired=True`): every trial is a pair of
one real and one non-real panel, so nothing about the real share is drawn: each pair holds one of
each, and chance is ½ whatever the participant does. The design is still one letter per panel,
each pair two consecutive letters in display order (left, right): "RS" or "SR" for a test pair,
"RC" or "CR" for a catch pair (a catch image against a real one). The side of the non-real panel
is balanced within the session: of a session's t test pairs, ⌊t/2⌋ or ⌈t/2⌉ have it on the
left (a fair coin chooses which when t is odd), the same for the catch pairs, and the order is
shuffled, so a participant who always picks one side scores ½ and the sides' counts are
recorded per trial. A pair needs one real image per pair, and one synthetic per test pair:
a session of t test pairs and k catch pairs uses t + k real and t synthetic images.
"""

import math
import random
from collections.abc import Collection, Hashable, Mapping

import numpy as np

REAL, SYNTHETIC, CATCH = "R", "S", "C"
CHANCE = 0.5


class DesignError(Exception):
    """The study's pools cannot fill the sessions it asks for."""


def max_rounds(panels: int, real: int, synthetic: int, catch: int, paired: bool = False) -> int:
    """The most rounds a session can hold without showing any image twice."""
    if paired:
        pairs = min(real, synthetic + catch)
        return pairs // (panels // 2) if panels >= 2 and pairs > catch else 0
    return (2 * min(real, synthetic) + catch) // panels


def session_length(
    panels: int,
    real: int,
    synthetic: int,
    catch: int,
    rounds: int | None = None,
    paired: bool = False,
) -> int:
    """The number of rounds per session: the study's setting, checked, or the most possible."""
    if paired:
        return _paired_session_length(panels, real, synthetic, catch, rounds)
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


def _paired_session_length(
    panels: int, real: int, synthetic: int, catch: int, rounds: int | None
) -> int:
    if panels < 2 or panels % 2:
        raise DesignError(
            f"the side-by-side layout shows pairs: panels per round must be even, not {panels}"
        )
    most = max_rounds(panels, real, synthetic, catch, paired=True)
    needed_rounds = rounds or 1
    if most < needed_rounds:
        pairs = needed_rounds * panels // 2
        raise DesignError(
            f"a session of {needed_rounds} round{'s' if needed_rounds != 1 else ''} of "
            f"{panels // 2} pairs needs {catch} catch image(s), {pairs} real images and at "
            f"least {max(pairs - catch, 1)} synthetic images that are neither practice nor "
            f"catch images (and fewer catch images than pairs); the study has {real} real "
            f"and {synthetic} synthetic"
        )
    return rounds or most


def paired_session_design(
    panels: int, rounds: int, real: int, synthetic: int, catch: int, rng: np.random.Generator
) -> str:
    """The letters of a side-by-side session: per pair, its (left, right) kinds (module doc)."""
    pairs = rounds * panels // 2
    test_pairs = pairs - catch
    if panels % 2 or test_pairs < 1 or pairs > real or test_pairs > synthetic:
        raise DesignError(f"{pairs} pairs cannot be drawn from these pools")
    trials = [
        (kind, on_left)
        for kind, count in ((SYNTHETIC, test_pairs), (CATCH, catch))
        for on_left in balanced_sides(count, rng)
    ]
    order = rng.permutation(len(trials))
    return "".join(
        trials[i][0] + REAL if trials[i][1] else REAL + trials[i][0] for i in order.tolist()
    )


def balanced_sides(count: int, rng: np.random.Generator) -> list[bool]:
    """`count` sides (True: left), half each, the odd one out by a fair coin, shuffled."""
    left = count // 2 + (int(rng.integers(2)) if count % 2 else 0)
    sides = np.array([True] * left + [False] * (count - left), dtype=bool)
    rng.shuffle(sides)
    return sides.tolist()


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
