"""Adaptive exposure (HYPE-time): each participant's exposure follows a staircase, server-side.

The rule (docs/study-design.md, "HYPE-time", says where it comes from):
- Exposures come from a fixed ladder of LADDER_MS, ten times logarithmically spaced from 100 ms
  to 1000 ms. A staircase starts at the top (1000 ms: the first trials are easy, and the
  participant sees what a timed image looks like).
- 3-down/1-up (Levitt 1971's transformed up-down rule): after DOWN_AFTER correct answers in a row
  the next exposure is one step shorter; after a wrong answer it is one step longer, and the run
  of correct answers starts again. At the ends of the ladder the exposure stays where it is.
  The rule converges on the exposure at which the participant is right 79.4 % of the time
  (p³ = ½).
- A *reversal* is a step in the opposite direction to the step before it (a stay at an end of
  the ladder is no step).
- Each generator has its own staircase, and a participant's staircases are interleaved: a round
  holds one trial, and belongs to the staircase of its synthetic image's generator; a real trial
  (yes/no layouts) is dealt to the staircase with the fewest trials so far in the session, ties
  drawn at random, so that each staircase sees real and synthetic images in about equal numbers.
  Catch and practice rounds belong to no staircase and are shown at the top of the ladder.

The next exposure is computed here from the answers already recorded for the staircase, never
from anything the browser sends: it is stored on the round (Round.exposure_limit_ms) when the
round opens, and the browser hides the images after it, as in any timed round.

The pure rule (`walk`) needs no database; `round_staircase` and `next_exposure` read a
participant's rounds.
"""

import random
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

LADDER_MS: tuple[int, ...] = tuple(round(100 * 10 ** (k / 9)) for k in range(10))
DOWN_AFTER = 3


@dataclass
class Staircase:
    """Where a staircase stands after the answers it has seen."""

    level: int = len(LADDER_MS) - 1  # index into LADDER_MS
    run: int = 0  # correct answers in a row since the last step or wrong answer
    last_step: int = 0  # -1 shorter, +1 longer, 0 none yet
    reversals: list[int] = field(default_factory=list)  # the exposure (ms) at each reversal
    exposures: list[int] = field(default_factory=list)  # the exposure of each trial, in order

    @property
    def exposure_ms(self) -> int:
        return LADDER_MS[self.level]

    def answer(self, correct: bool) -> None:
        """One trial at the current exposure, answered right or wrong: take the rule's step."""
        self.exposures.append(self.exposure_ms)
        if correct:
            self.run += 1
            if self.run < DOWN_AFTER:
                return
            self.run = 0
            self._step(-1)
        else:
            self.run = 0
            self._step(+1)

    def _step(self, direction: int) -> None:
        level = min(max(self.level + direction, 0), len(LADDER_MS) - 1)
        if level == self.level:
            return  # at an end of the ladder: no step, so no reversal
        if self.last_step and direction != self.last_step:
            self.reversals.append(self.exposure_ms)
        self.level, self.last_step = level, direction


def walk(answers: Iterable[bool]) -> Staircase:
    """The staircase after these answers (True correct), from its start."""
    staircase = Staircase()
    for correct in answers:
        staircase.answer(bool(correct))
    return staircase


def real_trial_staircase(
    counts: Counter, staircases: Sequence[Hashable], rng: random.Random
) -> Hashable:
    """The staircase a real trial is dealt to: the one with the fewest trials so far."""
    fewest = min(counts.get(staircase, 0) for staircase in staircases)
    tied = [staircase for staircase in staircases if counts.get(staircase, 0) == fewest]
    return tied[0] if len(tied) == 1 else rng.choice(tied)


def staircase_counts(participant) -> Counter:
    """How many test rounds of each staircase the participant has opened."""
    return Counter(
        participant.rounds.filter(is_practice=False, staircase__isnull=False).values_list(
            "staircase_id", flat=True
        )
    )


def next_exposure(participant, staircase_id: int | None) -> int:
    """The exposure of the participant's next trial on this staircase, from their answers."""
    answers = (
        participant.rounds.filter(
            is_practice=False,
            staircase_id=staircase_id,
            submitted_at__isnull=False,
            panels__is_catch=False,
            panels__guess__isnull=False,
        )
        .order_by("index")
        .values_list("panels__guess__correct", flat=True)
    )
    return walk(answers).exposure_ms
