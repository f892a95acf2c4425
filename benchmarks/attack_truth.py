"""The experimenter's side of benchmarks/quiz_attack.py: the ground truth and the statistics.

The truth (each panel token's image and kind) comes from the site's SQLite file, opened
read-only; the attacker never sees it. It scores the always-real and fresh participants and
labels the panels for the side-channel AUCs.
"""

from __future__ import annotations

import math
import sqlite3
import statistics


class Truth:
    """The experimenter's view: each panel token's image id and kind, from the site's database."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)

    def of(self, token: str) -> tuple[int, str]:
        row = self.db.execute(
            "SELECT i.id, i.kind FROM quiz_roundpanel p JOIN quiz_image i ON i.id = p.image_id "
            "WHERE p.token = ?",
            (token,),
        ).fetchone()
        if row is None:
            raise KeyError(token)
        return row[0], row[1]

    def pools(self, slug: str) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT i.kind, COUNT(*) FROM quiz_study s JOIN quiz_study_images si "
            "ON si.study_id = s.id JOIN quiz_image i ON i.id = si.image_id WHERE s.slug = ? "
            "GROUP BY i.kind",
            (slug,),
        ).fetchall()
        pools = dict(rows)
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(quiz_study)")}
        for extra in ("practice_images", "catch_images"):
            table = f"quiz_study_{extra}"
            if self.db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone():
                pools[extra] = self.db.execute(
                    f"SELECT COUNT(*) FROM {table} t JOIN quiz_study s ON s.id = t.study_id "
                    "WHERE s.slug = ?",
                    (slug,),
                ).fetchone()[0]
        for column in ("feedback", "rounds_per_session", "panels_per_round", "panel_size"):
            if column in columns:
                pools[column] = self.db.execute(
                    f"SELECT {column} FROM quiz_study WHERE slug = ?", (slug,)
                ).fetchone()[0]
        return pools


def auc(positives: list[float], negatives: list[float]) -> float | None:
    """P(a positive's value > a negative's), ties counting ½ (the Mann–Whitney U / n₁n₂)."""
    if not positives or not negatives:
        return None
    ranked = sorted([(v, 1) for v in positives] + [(v, 0) for v in negatives])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mid = (i + j + 1) / 2  # 1-based average rank of the tie block
        rank_sum += mid * sum(label for _, label in ranked[i:j])
        i = j
    n1, n0 = len(positives), len(negatives)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)


def binom_two_sided(k: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test p-value (sum of outcomes no likelier than k)."""

    def logpmf(i: int) -> float:
        return (
            math.lgamma(n + 1)
            - math.lgamma(i + 1)
            - math.lgamma(n - i + 1)
            + i * math.log(p)
            + (n - i) * math.log(1 - p)
        )

    observed = logpmf(k)
    total = sum(math.exp(logpmf(i)) for i in range(n + 1) if logpmf(i) <= observed + 1e-9)
    return min(1.0, total)


def median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
