"""The printed report of benchmarks/quiz_attack.py: one line per figure of its JSON."""

from __future__ import annotations


def _fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _share(pair: list[int]) -> str:
    return f"{pair[0]}/{pair[1]} ({pair[0] / pair[1]:.0%})" if pair[1] else "—"


def _medians(figures: dict, unit: str, digits: int) -> str:
    return (
        f"{_fmt(figures['auc_real_gt_synthetic'], 2)}  medians "
        f"{_fmt(figures[f'median_real{unit}'], digits)} / "
        f"{_fmt(figures[f'median_synthetic{unit}'], digits)}"
    )


def report(result: dict) -> None:
    print(
        f"\nQuiz attack on {result['base_url']} /quiz/{result['slug']}/   pools: {result['pools']}"
    )
    a = result.get("attack")
    if a:
        late, every = a["repeats_rounds_8_10"], a["repeats_all_rounds"]
        cl, cold, tok = (
            a["content_length"],
            a["ttfb_first_fetch_of_image"],
            a["ttfb_first_fetch_per_panel"],
        )
        rows = [
            (
                "participants × rounds played",
                f"{a['participants']} × {sorted(set(a['rounds_played']))}",
            ),
            ("(a) already-keyed panels, rounds 8–10", _share(late)),
            ("(a) already-keyed panels, all rounds", _share(every)),
            (
                "(b) first attacker: images known after k rounds",
                " ".join(map(str, a["knowledge_curve_first_attacker"])) or "—",
            ),
            (
                "(b) distinct images served / pooled dictionary (correct)",
                f"{a['distinct_images_served']} / {a['dictionary_size']} "
                f"({a['dictionary_consistent_entries']})",
            ),
            ("(b) attackers' accuracy (dictionary + guesses)", _fmt(a["attacker_accuracy"])),
            (
                "(b) fresh participant, first round (first one)",
                f"{a['fresh_first_round_scores'][0] * 10:.0f}/10"
                if a["fresh_first_round_scores"]
                else "—",
            ),
            (
                f"(b) fresh participants' mean (n={len(a['fresh_first_round_scores'])})",
                f"{_fmt(a['fresh_mean_score'])} "
                f"(dictionary covers {_fmt(a['fresh_dictionary_coverage'])})",
            ),
            (
                "(c) Content-Length AUC (real > synthetic)",
                f"{_medians(cl, '', 0)} B, {cl['distinct_lengths']} distinct lengths, "
                f"images {cl['images']}",
            ),
            (
                "(c) TTFB AUC, first fetch of each image",
                f"{_medians(cold, '_ms', 1)} ms, n {cold['n']}",
            ),
            (
                "(c) TTFB AUC, first fetch of each panel token",
                f"{_medians(tok, '_ms', 1)} ms, n {tok['n']}",
            ),
        ]
        width = max(len(r[0]) for r in rows)
        for label, value in rows:
            print(f"  {label:<{width}}  {value}")
        print(
            "  already-keyed by round: "
            + ", ".join(f"{k}:{v[0]}/{v[1]}" for k, v in a["repeats_by_round"].items())
        )
    r = result.get("always_real")
    if r:
        print(
            f"  (d) always-'real' on /quiz/{r['slug']}/ pools {r['pools']}: "
            f"{r['sessions']} sessions × {r['rounds_per_session']} rounds = {r['trials']} trials, "
            f"accuracy {_fmt(r['accuracy'])}, p = {r['p_two_sided_vs_half']:.2g} (two-sided, vs ½)"
        )
