"""How trustworthy is a running quiz? Attacks over HTTP, as a participant's browser sees the site.

Prints figures, asserts nothing. Against a running site (``--base-url``, ``--slug``):

1. ``--participants`` participants, each with its own cookie jar, consent through the start page's
   form and take rounds until ``--rounds-per-participant`` or the session ends. Every panel is
   fetched (Content-Length, SHA-256 of the body, time to first byte of the first fetch). Panels
   whose hash the attackers' pooled dictionary knows are answered from it, the rest at random.
   Answer keys (the result page's ``real-letters`` / ``synthetic-letters``, the summary page's
   per-round keys) teach the dictionary the truth of the panels' hashes. Scores ("Your score:
   k / n" after a round) are pooled too: each is one linear equation in the truths of the round's
   images, and a least-squares fit of all of them (numpy) adds every image it decides.
2. Fresh participants (``--fresh``) then take one round each, answering from the dictionary of
   all earlier participants.
3. Always-"real" participants (``--always-real`` sessions, optionally on another study with
   ``--always-real-slug``) answer "real" to everything.

The attacker uses only what pages show. The experimenter's ground truth (``--db``, the site's
SQLite file, read-only) scores the always-real and fresh participants and labels panels for the
side-channel AUCs. Only the standard library and numpy are used. The participant and what it
reads from pages are in benchmarks/attack_participant.py, the ground truth and the statistics in
attack_truth.py, the printed report in attack_report.py.

    python benchmarks/quiz_attack.py --base-url http://127.0.0.1:8000 --slug demo \\
        --db var/db.sqlite3 --participants 15 --rounds-per-participant 10 --json out.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

if not __package__:  # run as a file (python benchmarks/quiz_attack.py): its siblings' package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.attack_participant import REAL, SYNTHETIC, PanelFetch, Participant  # noqa: E402
from benchmarks.attack_report import report  # noqa: E402
from benchmarks.attack_truth import Truth, auc, binom_two_sided, median_or_none  # noqa: E402

# ---------------------------------------------------------------- the attackers' pooled scores


def pooled_scores(players: list[Participant]) -> dict[str, str]:
    """sha -> kind for every image that the scores the players were shown decide.

    A round's score minus its "synthetic" answers is Σ ±truth over its images (+ answered real,
    − synthetic; truth 1 real, 0 synthetic): ridge least squares around ½ solves all of them.
    """
    import numpy as np

    rows = [seen for player in players for seen in player.rounds if seen.score is not None]
    shas = sorted({fetch.sha for seen in rows for fetch in seen.fetches.values()})
    if not rows or not shas:
        return {}
    column = {sha: i for i, sha in enumerate(shas)}
    matrix = np.zeros((len(rows), len(shas)))
    target = np.zeros(len(rows))
    for r, seen in enumerate(rows):
        for token, answer in seen.answers.items():
            matrix[r, column[seen.fetches[token].sha]] = 1.0 if answer == REAL else -1.0
        target[r] = seen.score - sum(answer == SYNTHETIC for answer in seen.answers.values())
    # x = ½ + d: minimise |A d − (b − A·½)|² + λ|d|²
    ridge = 1e-3
    residual = target - matrix @ np.full(len(shas), 0.5)
    d = np.linalg.solve(matrix.T @ matrix + ridge * np.eye(len(shas)), matrix.T @ residual)
    return {sha: REAL if d[i] > 0 else SYNTHETIC for sha, i in column.items() if abs(d[i]) > 0.05}


# ---------------------------------------------------------------- the experiments


def attack(args: argparse.Namespace, truth: Truth, rng: random.Random) -> dict:
    dictionary: dict[str, str] = {}
    keys: dict[str, str] = {}  # what answer keys showed: exact, and never overwritten by a fit
    players: list[Participant] = []
    first_fetch_of_image: dict[int, PanelFetch] = {}
    all_first_fetches: list[tuple[str, PanelFetch]] = []  # (kind, fetch) per panel token
    image_lengths: dict[int, tuple[str, int]] = {}
    sha_truth: dict[str, set[str]] = {}
    attacker_correct = attacker_total = 0
    for n in range(args.participants):
        player = Participant(args.base_url, args.slug)
        player.start()
        for _ in range(args.rounds_per_participant):
            seen = player.play_round(dictionary, rng)
            if seen is None:
                break
            for token, fetch in seen.fetches.items():
                image_id, kind = truth.of(token)
                first_fetch_of_image.setdefault(image_id, fetch)
                image_lengths.setdefault(image_id, (kind, fetch.length))
                all_first_fetches.append((kind, fetch))
                sha_truth.setdefault(fetch.sha, set()).add(kind)
                attacker_total += 1
                attacker_correct += seen.answers[token] == kind
            keys.update(player.known)
            dictionary.update(player.known)
        player.finish()
        keys.update(player.known)
        players.append(player)
        dictionary = pooled_scores(players) | keys
        print(
            f"  participant {n + 1}: {len(player.rounds)} rounds, "
            f"knows {len(player.known)} images; pooled dictionary {len(dictionary)}",
            file=sys.stderr,
        )

    # (a) panels whose truth this participant had already been shown in a key
    repeats = {"late": [0, 0], "all": [0, 0]}
    per_round: dict[int, list[int]] = {}
    for player in players:
        known_before: set[str] = set()
        for seen in player.rounds:
            shas = [seen.fetches[t].sha for t in seen.letters.values() if t in seen.fetches]
            hit = sum(sha in known_before for sha in shas)
            per_round.setdefault(seen.number, [0, 0])
            per_round[seen.number][0] += hit
            per_round[seen.number][1] += len(shas)
            repeats["all"][0] += hit
            repeats["all"][1] += len(shas)
            if 8 <= seen.number <= 10:
                repeats["late"][0] += hit
                repeats["late"][1] += len(shas)
            if seen.key_on == "result":  # a summary page's keys come after every round
                known_before |= set(seen.key)

    # (b) a single attacker's knowledge after k rounds, and fresh participants' first round
    curve: list[list[int]] = []
    for player in players:
        known: set[str] = set()
        row = []
        for seen in player.rounds:
            if seen.key_on == "result":
                known |= set(seen.key)
            row.append(len(known))
        if len(player.known) > len(known):  # keys on the summary page, after the last round
            row.append(len(player.known))
        curve.append(row)
    fresh_scores, fresh_coverage = [], []
    for _ in range(args.fresh):
        player = Participant(args.base_url, args.slug)
        player.start()
        seen = player.play_round(dictionary, rng)
        if seen is None:
            continue
        correct = covered = 0
        for token, answer in seen.answers.items():
            correct += answer == truth.of(token)[1]
            covered += seen.fetches[token].sha in dictionary
        fresh_scores.append(correct / len(seen.answers))
        fresh_coverage.append(covered / len(seen.answers))
    dict_correct = sum(1 for sha, kind in dictionary.items() if sha_truth.get(sha) == {kind})

    # (c) side channels, labelled by the experimenter's truth
    lengths = {REAL: [], SYNTHETIC: []}
    for kind, length in image_lengths.values():
        lengths[kind].append(length)
    cold = {REAL: [], SYNTHETIC: []}
    for image_id, fetch in first_fetch_of_image.items():
        cold[image_lengths[image_id][0]].append(fetch.ttfb_ms)
    per_token = {REAL: [], SYNTHETIC: []}
    for kind, fetch in all_first_fetches:
        per_token[kind].append(fetch.ttfb_ms)
    return {
        "participants": len(players),
        "rounds_played": [len(p.rounds) for p in players],
        "attacker_accuracy": attacker_correct / attacker_total if attacker_total else None,
        "repeats_rounds_8_10": repeats["late"],
        "repeats_all_rounds": repeats["all"],
        "repeats_by_round": {k: per_round[k] for k in sorted(per_round)},
        "knowledge_curve_first_attacker": curve[0] if curve else [],
        "knowledge_curve_max": [
            max(row[k] for row in curve if len(row) > k)
            for k in range(max((len(r) for r in curve), default=0))
        ],
        "distinct_images_served": len(image_lengths),
        "dictionary_size": len(dictionary),
        "dictionary_consistent_entries": dict_correct,
        "fresh_first_round_scores": fresh_scores,
        "fresh_mean_score": statistics.fmean(fresh_scores) if fresh_scores else None,
        "fresh_dictionary_coverage": statistics.fmean(fresh_coverage) if fresh_coverage else None,
        "content_length": {
            "auc_real_gt_synthetic": auc(lengths[REAL], lengths[SYNTHETIC]),
            "median_real": median_or_none(lengths[REAL]),
            "median_synthetic": median_or_none(lengths[SYNTHETIC]),
            "distinct_lengths": len(set(lengths[REAL] + lengths[SYNTHETIC])),
            "images": [len(lengths[REAL]), len(lengths[SYNTHETIC])],
        },
        "ttfb_first_fetch_of_image": {
            "auc_real_gt_synthetic": auc(cold[REAL], cold[SYNTHETIC]),
            "median_real_ms": median_or_none(cold[REAL]),
            "median_synthetic_ms": median_or_none(cold[SYNTHETIC]),
            "n": [len(cold[REAL]), len(cold[SYNTHETIC])],
        },
        "ttfb_first_fetch_per_panel": {
            "auc_real_gt_synthetic": auc(per_token[REAL], per_token[SYNTHETIC]),
            "median_real_ms": median_or_none(per_token[REAL]),
            "median_synthetic_ms": median_or_none(per_token[SYNTHETIC]),
            "n": [len(per_token[REAL]), len(per_token[SYNTHETIC])],
        },
    }


def always_real(args: argparse.Namespace, truth: Truth, rng: random.Random) -> dict:
    slug = args.always_real_slug or args.slug
    correct = total = 0
    rounds = []
    for _ in range(args.always_real):
        player = Participant(args.base_url, slug)
        player.start()
        for _ in range(args.rounds_per_participant):
            seen = player.play_round({}, rng, always_real=True, fetch=False)
            if seen is None:
                break
            kinds = [truth.of(t)[1] for t in seen.letters.values()]
            correct += kinds.count(REAL)
            total += len(kinds)
        rounds.append(len(player.rounds))
    return {
        "slug": slug,
        "pools": truth.pools(slug),
        "sessions": args.always_real,
        "rounds_per_session": sorted(set(rounds)),
        "trials": total,
        "accuracy": correct / total if total else None,
        "p_two_sided_vs_half": binom_two_sided(correct, total) if total else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--slug", default="demo")
    parser.add_argument("--db", required=True, help="The site's SQLite file (ground truth).")
    parser.add_argument("--participants", type=int, default=15)
    parser.add_argument("--rounds-per-participant", type=int, default=10)
    parser.add_argument(
        "--fresh", type=int, default=10, help="Fresh participants after the attack."
    )
    parser.add_argument(
        "--always-real",
        type=int,
        default=0,
        metavar="N",
        help="Sessions of an always-'real' participant.",
    )
    parser.add_argument("--always-real-slug", help="Study for the always-real sessions.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="Also write the figures to this file.")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    truth = Truth(args.db)
    result: dict = {"base_url": args.base_url, "slug": args.slug, "pools": truth.pools(args.slug)}
    started = time.perf_counter()
    if args.participants:
        result["attack"] = attack(args, truth, rng)
    if args.always_real:
        result["always_real"] = always_real(args, truth, rng)
    result["seconds"] = round(time.perf_counter() - started, 1)
    report(result)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
