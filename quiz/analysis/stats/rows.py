"""The trial rows, checked, and the same trials as arrays for the rest of the analysis.

A row is one participant's answer to one image: a TrialRow, or any object or mapping with the
same field names. `Trials.of` refuses a label other than "real"/"synthetic" and an image shown
with both labels (ValueError naming the trial or the image); participants, images, expertise
groups, generators, (generator, checkpoint) pairs and panel letters become indices into sorted
lists of their distinct values. A row's generator is its `generator`, or its `training_run` when
it names none (a run trained here is a generator; a CSV from before generators has runs only).
A row's `rating` is optional: a confidence rating on the study's k-point scale, 1 = certainly real
up to k = certainly synthetic (any finite number is taken; a higher one means "more synthetic");
`Trials.of` refuses one that is not a finite number.

A row's `layout` "pair" marks a two-alternative forced-choice trial (one real and one non-real
image side by side: which is real?), told from its non-real image: `true_label` "synthetic",
`answer` "real" when the participant chose it. A report's rows are all of that layout or none
(`Trials.paired`): the two tasks' figures differ (quiz.analysis.stats.headline), so `Trials.of`
refuses a mix, and a pair row whose true_label is not synthetic. `staircase` and
`exposure_limit_ms` are the adaptive-exposure (HYPE-time) trial's staircase and exposure.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

REAL, SYNTHETIC = "real", "synthetic"


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
    # Last, so that rows built positionally before generators existed keep their meaning.
    generator: Hashable | None = None
    rating: float | None = None
    layout: str = ""
    staircase: Hashable | None = None
    exposure_limit_ms: float | None = None
    synthetic_side: str = ""

    @property
    def correct(self) -> bool:
        return self.answer == self.true_label


@dataclass(frozen=True)
class Trials:
    """The trials as arrays: (n,) per trial, (P,) per participant."""

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
    generators: list  # generator names (a row's generator, else its training run)
    generator_runs: list  # the training run of each generator, None for one trained elsewhere
    checkpoint: np.ndarray  # (n,) index into checkpoints; -1 on real panels
    checkpoints: list  # (generator, checkpoint_step) pairs
    round: np.ndarray  # (n,) int
    letter: np.ndarray  # (n,) index into letters
    letters: list
    response_ms: np.ndarray  # (n,) float, NaN where unknown
    rating: np.ndarray  # (n,) float, NaN where the trial has no confidence rating
    paired: bool = False  # two-alternative forced choice: every trial a pair
    staircase: np.ndarray | None = None  # (n,) index into staircases; -1 outside any
    staircases: list | None = None
    exposure_limit: np.ndarray | None = None  # (n,) float ms, NaN where untimed
    synthetic_side: list | None = None  # (n,) 2AFC: "left", "right" or "" where unknown

    @property
    def correct(self) -> np.ndarray:
        return self.synthetic == self.said_synthetic

    @classmethod
    def of(cls, trials: Iterable) -> Trials:
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
                ("generator", None),
                ("checkpoint_step", None),
                ("round", 1),
                ("letter", ""),
                ("response_ms", None),
                ("rating", None),
                ("layout", ""),
                ("staircase", None),
                ("exposure_limit_ms", None),
                ("synthetic_side", ""),
            )
        }
        pair_rows = [str(v or "") == "pair" for v in columns["layout"]]
        paired = bool(records) and all(pair_rows)
        if any(pair_rows) and not paired:
            raise ValueError(
                "trials of the side-by-side layout (two-alternative forced choice) and of "
                "yes/no layouts cannot be analysed together: their figures differ"
            )
        for name in ("true_label", "answer"):
            for i, value in enumerate(columns[name]):
                if value not in (REAL, SYNTHETIC):
                    raise ValueError(
                        f"trial {i}: {name} must be 'real' or 'synthetic', not {value!r}"
                    )
        synthetic = np.array([v == SYNTHETIC for v in columns["true_label"]], dtype=bool)
        participants, participant = codes(columns["participant"])
        images, image = codes(columns["image"])
        shown = np.bincount(image, minlength=len(images))
        shown_synthetic = np.bincount(image, weights=synthetic, minlength=len(images))
        mixed = np.flatnonzero((shown_synthetic > 0) & (shown_synthetic < shown))
        if mixed.size:
            raise ValueError(f"image {images[mixed[0]]!r} is shown as both real and synthetic")
        if paired and not synthetic.all():
            i = int(np.flatnonzero(~synthetic)[0])
            raise ValueError(
                f"trial {i}: a side-by-side trial is told from its non-real image, so its "
                "true_label must be 'synthetic'"
            )
        rated = [i for i, v in enumerate(columns["rating"]) if v not in (None, "")]
        if paired and rated:
            # A pair is answered by a choice between two images: no ROC can be drawn from it.
            raise ValueError(
                f"trial {rated[0]}: a side-by-side trial is a choice between two images and "
                "carries no confidence rating"
            )
        staircase_names = [v for v in columns["staircase"] if v not in (None, "")]
        staircases = sorted(dict.fromkeys(staircase_names), key=_sort_key)
        staircase_index = {name: s for s, name in enumerate(staircases)}
        levels, expertise = codes([str(v or "") for v in columns["expertise"]])
        _, first = np.unique(participant, return_index=True)
        # Each synthetic trial's generator (None when its row names neither generator nor run:
        # still one group of synthetic images); real trials have none (-1 below).
        named = [
            generator if generator not in (None, "") else run
            for generator, run in zip(columns["generator"], columns["training_run"], strict=True)
        ]
        on = np.flatnonzero(synthetic)
        generators = sorted(dict.fromkeys(named[i] for i in on), key=_sort_key)
        runs = dict.fromkeys(generators)
        for i in on:
            if runs[named[i]] is None:
                runs[named[i]] = columns["training_run"][i]
        checkpoints = sorted(
            dict.fromkeys((named[i], columns["checkpoint_step"][i]) for i in on),
            key=lambda pair: (_sort_key(pair[0]), _sort_key(pair[1])),
        )
        generator_index = {name: g for g, name in enumerate(generators)}
        checkpoint_index = {pair: c for c, pair in enumerate(checkpoints)}
        generator = np.full(len(records), -1, dtype=np.int64)
        checkpoint = np.full(len(records), -1, dtype=np.int64)
        for i in on:
            generator[i] = generator_index[named[i]]
            checkpoint[i] = checkpoint_index[(named[i], columns["checkpoint_step"][i])]
        letters, letter = codes([str(v or "") for v in columns["letter"]])
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
            generator=generator,
            generators=generators,
            generator_runs=[runs[name] for name in generators],
            checkpoint=checkpoint,
            checkpoints=checkpoints,
            round=np.array([int(v) if v is not None else 1 for v in columns["round"]]),
            letter=letter,
            letters=letters,
            response_ms=np.array(
                [np.nan if v is None else float(v) for v in columns["response_ms"]], dtype=float
            ),
            rating=_ratings(columns["rating"]),
            paired=paired,
            staircase=np.array(
                [
                    staircase_index.get(v, -1) if v not in (None, "") else -1
                    for v in columns["staircase"]
                ],
                dtype=np.int64,
            ),
            staircases=staircases,
            synthetic_side=[str(v or "") for v in columns["synthetic_side"]],
            exposure_limit=np.array(
                [np.nan if v in (None, "") else float(v) for v in columns["exposure_limit_ms"]],
                dtype=float,
            ),
        )


def _ratings(values: list) -> np.ndarray:
    ratings = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if value is None or value == "":
            continue
        try:
            if isinstance(value, bool | np.bool_):  # True is 1 to float(), not a rating
                raise TypeError
            ratings[i] = float(value)
        except (TypeError, ValueError):
            ratings[i] = np.nan
        if not np.isfinite(ratings[i]):
            raise ValueError(f"trial {i}: rating must be a finite number, not {value!r}")
    return ratings


def codes(values: list) -> tuple[list, np.ndarray]:
    """The distinct values in a stable order, and each value's index among them."""
    labels = sorted(dict.fromkeys(values), key=_sort_key)
    index = {label: i for i, label in enumerate(labels)}
    return labels, np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def _sort_key(value: object) -> tuple:
    if value is None:
        return (0, 0, "")
    if isinstance(value, bool | int | float | np.integer | np.floating):
        return (1, value, "")
    return (2, 0, str(value))


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
