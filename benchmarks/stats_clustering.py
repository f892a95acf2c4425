"""Naive (trials independent) against participant-as-unit figures on one planted study.

Prints figures, asserts nothing. The planted study has clustered trials: participants differ in
ability (sd `--ability-sd`), experts are `--expert-gain` better, and no image effect is planted.
"Naive" is what the statistics page computed before quiz.analysis.stats: Wilson intervals and an
exact binomial test over pooled trials. Run: `python -m benchmarks.stats_clustering`.
"""

import argparse

import numpy as np
from scipy.stats import binomtest

from quiz.analysis.stats import report


def planted_trials(args: argparse.Namespace) -> list[dict]:
    rng = np.random.default_rng(args.seed)
    rows = []
    for participant in range(args.participants):
        expert = participant < args.participants // 3
        mean = args.accuracy + (args.expert_gain if expert else 0.0)
        ability = float(np.clip(rng.normal(mean, args.ability_sd), 0.05, 0.95))
        for trial in range(args.trials):
            label = "real" if rng.random() < 0.5 else "synthetic"
            correct = rng.random() < ability
            rows.append(
                {
                    "participant": participant,
                    "image": f"{label}-{rng.integers(args.images)}",
                    "true_label": label,
                    "answer": label if correct else ("synthetic" if label == "real" else "real"),
                    "expertise": "sonographer" if expert else "none",
                    "training_run": "run A" if label == "synthetic" else None,
                    "round": trial // 10 + 1,
                    "letter": "ABCDEFGHIJ"[trial % 10],
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=30)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--images", type=int, default=40, help="Per class.")
    parser.add_argument("--accuracy", type=float, default=0.55)
    parser.add_argument("--expert-gain", type=float, default=0.07)
    parser.add_argument("--ability-sd", type=float, default=0.08)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    rows = planted_trials(args)
    result = report(rows)
    accuracy = result["accuracy"]
    correct = sum(row["answer"] == row["true_label"] for row in rows)
    naive_low, naive_high = accuracy["naive_ci95"]
    low, high = accuracy["ci95"]
    print(f"{args.participants} participants x {args.trials} trials, no image effect planted")
    print(f"accuracy {accuracy['estimate']:.3f}")
    print(f"  CI width: naive {naive_high - naive_low:.3f}, participant bootstrap {high - low:.3f}")
    print(
        f"  p vs 50%: naive binomial {binomtest(correct, len(rows)).pvalue:.1e}, "
        f"t-test over participants {accuracy['p_vs_chance']:.1e}"
    )
    for coefficient in result["model"]["correct"]["coefficients"]:
        print(
            f"  model ({result['model']['method']}): {coefficient['factor']} "
            f"{coefficient['level']} vs {coefficient['reference']}: "
            f"OR {coefficient['odds_ratio']:.2f}, p {coefficient['p']:.1e}"
        )
    images = result["per_image"]["images"]
    top = max((row for row in images if row["true_label"] == "synthetic"), key=lambda r: r["rate"])
    print(
        f"  most-fooling image: {top['rate']:.0%} of {top['trials']} trials, q = {top['q']:.2f}; "
        f"hardest fakes listed: {len(result['per_image']['hardest_fakes'])}"
    )


if __name__ == "__main__":
    main()
