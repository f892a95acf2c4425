"""Time and memory of quiz.analysis.stats.report on simulated studies.

    python -m benchmarks.bench_stats [--sizes 200x200 2000x100] [--resamples 10000] [--quick]

Each study: participants with random ability, images with random ease (400 images, half
synthetic from two runs of two checkpoints), three expertise groups, ten panels a round. Prints
the full report's seconds and peak memory (tracemalloc: Python and NumPy allocations; and the
process's peak RSS), then the parts: the participant bootstrap of the headline figures, the
agreement, and the model fitted each way (the mixed model and the GEE) whichever the report
would choose. --quick skips the mixed model where the report would not fit it (minutes).
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

from quiz.analysis.stats import report
from quiz.analysis.stats.agreement import AGREEMENT_RESAMPLES, agreement
from quiz.analysis.stats.headline import FIGURES, PerParticipant, participant_bootstrap
from quiz.analysis.stats.regression import MIXED_MODEL_MAX_WORK, models
from quiz.analysis.stats.rows import TrialRow, Trials

IMAGES = 400
GROUPS = ("none", "student", "sonographer")


def simulated_study(participants: int, trials: int, seed: int = 0) -> list[TrialRow]:
    rng = np.random.default_rng(seed)
    synthetic = np.arange(IMAGES) % 2 == 1
    run = np.where(np.arange(IMAGES) % 4 == 1, "run A", "run B")
    step = np.where(np.arange(IMAGES) % 8 < 4, 5000, 10000)
    ease = rng.normal(0, 0.5, IMAGES)
    ability = rng.normal(0.3, 0.5, participants)
    # Each participant sees `trials` distinct images: the first of a random order.
    shown = np.argsort(rng.random((participants, IMAGES)), axis=1)[:, :trials]
    participant = np.repeat(np.arange(participants), trials)
    image = shown.ravel()
    group = participant % len(GROUPS)
    logit = ability[participant] + ease[image] + 0.2 * (group == 2)
    correct = rng.random(participant.size) < 1 / (1 + np.exp(-logit))
    said_synthetic = np.where(correct, synthetic[image], ~synthetic[image])
    position = np.tile(np.arange(trials), participants)
    times = rng.lognormal(7, 0.5, participant.size)
    labels = np.array(["real", "synthetic"])
    return [
        TrialRow(
            participant=int(p),
            image=int(i),
            true_label=labels[int(synthetic[i])],
            answer=labels[int(a)],
            expertise=GROUPS[g],
            training_run=str(run[i]) if synthetic[i] else None,
            checkpoint_step=int(step[i]) if synthetic[i] else None,
            round=int(k // 10 + 1),
            letter="ABCDEFGHIJ"[k % 10],
            response_ms=float(t),
        )
        for p, i, a, g, k, t in zip(
            participant, image, said_synthetic, group, position, times, strict=True
        )
    ]


def _timed(function, *args, **kwargs) -> tuple[object, float, float]:
    """The result, seconds and tracemalloc peak (MiB) of one call."""
    tracemalloc.start()
    start = time.perf_counter()
    result = function(*args, **kwargs)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["200x200", "2000x100"])
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="skip mixed fits over budget")
    args = parser.parse_args()
    for size in args.sizes:
        participants, trials = (int(x) for x in size.split("x"))
        start = time.perf_counter()
        rows = simulated_study(participants, trials)
        print(
            f"\n{participants} participants x {trials} trials = {len(rows)} trials, "
            f"{IMAGES} images (simulated in {time.perf_counter() - start:.1f} s)"
        )
        result, seconds, peak = _timed(report, rows, n_resamples=args.resamples)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"  full report: {seconds:6.1f} s, peak {peak:6.0f} MiB traced, process peak RSS "
            f"{rss:.0f} MiB; model: {result['model']['method']}"
            + (f" ({result['model']['reason']})" if result["model"]["reason"] else "")
        )
        data = Trials.of(rows)
        per = PerParticipant.of(data)
        values = per.values()
        columns = np.column_stack([values[name] for name in FIGURES])
        rng = np.random.default_rng(0)
        _, seconds, peak = _timed(participant_bootstrap, columns, args.resamples, rng)
        print(
            f"  bootstrap, {len(FIGURES)} headline figures x {args.resamples} "
            f"resamples: {seconds:6.2f} s, peak {peak:5.0f} MiB"
        )
        _, seconds, peak = _timed(agreement, data, AGREEMENT_RESAMPLES, rng)
        print(
            f"  agreement ({AGREEMENT_RESAMPLES} resamples): {seconds:6.2f} s, peak {peak:5.0f} MiB"
        )
        work = (len(data.participants) + len(data.images)) * data.n
        for method in ("clustered", "mixed"):
            if method == "mixed" and args.quick and work > MIXED_MODEL_MAX_WORK:
                print("  model, mixed: skipped (--quick; over MIXED_MODEL_MAX_WORK)")
                continue
            model, seconds, peak = _timed(models, data, method, None)
            effects = ", ".join(
                f"{c['level']} {c['log_odds']:+.3f} ± {c['se']:.3f}"
                for c in model["called_real"]["coefficients"] or []
            )
            print(
                f"  model, {model['method']}: {seconds:6.1f} s, peak {peak:5.0f} MiB"
                + (f" ({model['reason']})" if model["reason"] else "")
                + f"; called real: {effects}"
            )


if __name__ == "__main__":
    main()
