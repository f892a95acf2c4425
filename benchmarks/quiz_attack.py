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
side-channel AUCs. Only the standard library and numpy are used.

    python benchmarks/quiz_attack.py --base-url http://127.0.0.1:8000 --slug demo \\
        --db var/db.sqlite3 --participants 15 --rounds-per-participant 10 --json out.json
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import http.cookiejar
import json
import math
import random
import re
import sqlite3
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser

REAL, SYNTHETIC = "real", "synthetic"


# ---------------------------------------------------------------- HTML parsing (what pages show)


class _Page(HTMLParser):
    """Forms with their fields, the answer-key spans and the summary page's per-round keys."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: dict | None = None
        self.spans: dict[str, str] = {}
        self._span_id: str | None = None
        self._span_text: list[str] = []
        self.sections: list[tuple[str, str]] = []  # (aria-label, text)
        self._section: list | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs_list: list) -> None:
        attrs = {k: (v if v is not None else "") for k, v in attrs_list}
        if tag == "form":
            self._form = {
                "id": attrs.get("id", ""),
                "action": attrs.get("action", ""),
                "method": attrs.get("method", "get").lower(),
                "inputs": [],
                "selects": [],
                "imgs": [],
            }
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            self._form["inputs"].append(attrs)
        elif tag == "select" and self._form is not None:
            self._select = {"name": attrs.get("name", ""), "options": []}
            self._form["selects"].append(self._select)
        elif tag == "option" and self._select is not None:
            self._select["options"].append(attrs.get("value", ""))
        elif tag == "textarea" and self._form is not None:
            self._form["inputs"].append({"type": "textarea", "name": attrs.get("name", "")})
        elif tag == "img" and self._form is not None:
            self._form["imgs"].append(attrs.get("src", ""))
        elif tag == "span" and attrs.get("id") in {"real-letters", "synthetic-letters"}:
            self._span_id, self._span_text = attrs["id"], []
        elif tag == "section" and attrs.get("aria-label", "").startswith("Answer key"):
            self._section = [attrs["aria-label"], []]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "span" and self._span_id:
            self.spans[self._span_id] = "".join(self._span_text)
            self._span_id = None
        elif tag == "section" and self._section is not None:
            self.sections.append((self._section[0], "".join(self._section[1])))
            self._section = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._span_id:
            self._span_text.append(data)
        if self._section is not None:
            self._section[1].append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _letters(text: str) -> list[str]:
    return re.findall(r"\b([A-Z])\b", text.replace("none", ""))


def _key_from_text(text: str) -> dict[str, str]:
    """{letter: kind} from "Real: B, C ... Synthetic: A, D" text."""
    match = re.search(r"Real:(.*?)Synthetic:(.*)", text, re.S)
    if not match:
        return {}
    key = {letter: REAL for letter in _letters(match.group(1))}
    key.update({letter: SYNTHETIC for letter in _letters(match.group(2))})
    return key


# ---------------------------------------------------------------- a browser-like participant


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs) -> None:
        return None


@dataclass
class PanelFetch:
    token: str
    sha: str
    length: int
    ttfb_ms: float


@dataclass
class RoundSeen:
    number: int  # 1-based, as this participant counts its rounds
    letters: dict[str, str]  # letter -> panel token
    fetches: dict[str, PanelFetch]  # token -> first fetch
    answers: dict[str, str]  # token -> answer sent
    key: dict[str, str] = field(default_factory=dict)  # sha -> kind this round's key revealed
    key_on: str = ""  # "result" (right after the round) or "summary" (at the session's end)
    score: int | None = None  # the number correct the result page showed, if it showed one


@dataclass
class Participant:
    base: str
    slug: str
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)
    rounds: list[RoundSeen] = field(default_factory=list)
    known: dict[str, str] = field(default_factory=dict)  # sha -> kind, from keys this one saw
    session_over: bool = False

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def url(self, path: str) -> str:
        return urllib.parse.urljoin(self.base, path)

    def get(self, path: str) -> tuple[str, str]:
        with self.opener.open(self.url(path), timeout=60) as response:
            return response.geturl(), response.read().decode("utf-8", "replace")

    def post(self, path: str, fields: list[tuple[str, str]]) -> tuple[str, str, int]:
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(self.url(path), data=data, method="POST")
        try:
            with self.opener.open(request, timeout=60) as response:
                return (
                    response.geturl(),
                    response.read().decode("utf-8", "replace"),
                    response.status,
                )
        except urllib.error.HTTPError as exc:
            return exc.geturl(), exc.read().decode("utf-8", "replace"), exc.code

    def start(self) -> None:
        """GET the start page and POST its form generically (consent ticked, defaults chosen)."""
        final, html = self.get(f"/quiz/{self.slug}/")
        form = next((f for f in _parse(html).forms if f["method"] == "post"), None)
        if form is None:
            raise RuntimeError(f"no consent form on {final}")
        fields: list[tuple[str, str]] = []
        for attrs in form["inputs"]:
            name, kind = attrs.get("name", ""), attrs.get("type", "text").lower()
            if not name:
                continue
            if kind == "checkbox":
                fields.append((name, attrs.get("value") or "on"))
            elif kind == "hidden":
                fields.append((name, attrs.get("value", "")))
            elif kind in {"number", "text", "textarea", "email"}:
                fields.append((name, ""))  # optional questions left blank
            elif kind == "radio" and name not in {n for n, _ in fields}:
                fields.append((name, attrs.get("value", "")))
        for select in form["selects"]:
            fields.append((select["name"], select["options"][0] if select["options"] else ""))
        final, html, status = self.post(form["action"] or final, fields)
        if "/round/" not in final:
            raise RuntimeError(f"consent did not lead to a round ({status} {final})")

    def fetch_panel(self, src: str) -> PanelFetch:
        url = urllib.parse.urlsplit(self.url(src))
        probe = urllib.request.Request(self.url(src))
        self.jar.add_cookie_header(probe)
        headers = {"Accept": "image/*"}
        if probe.get_header("Cookie") or probe.unredirected_hdrs.get("Cookie"):
            headers["Cookie"] = probe.get_header("Cookie") or probe.unredirected_hdrs["Cookie"]
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)
        try:
            conn.connect()
            conn.request("GET", url.path, headers=headers)
            sent = time.perf_counter()
            response = conn.getresponse()  # returns once the status line and headers are read
            ttfb = (time.perf_counter() - sent) * 1000
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"panel {src}: HTTP {response.status}")
            length = int(response.getheader("Content-Length") or len(body))
        finally:
            conn.close()
        token = re.search(r"/panel/([^/]+)\.png", src).group(1)
        return PanelFetch(token, hashlib.sha256(body).hexdigest(), length, ttfb)

    def play_round(
        self,
        dictionary: dict[str, str],
        rng: random.Random,
        always_real: bool = False,
        fetch: bool = True,
    ) -> RoundSeen | None:
        """One round: None when the session is over (redirected to the summary page)."""
        final, html = self.get(f"/quiz/{self.slug}/round/")
        if "/done/" in final:
            self._read_summary(html)
            return None
        page = _parse(html)
        form = next((f for f in page.forms if f["id"] == "round-form"), None)
        if form is None:
            raise RuntimeError(f"no round form on {final}")
        letters: dict[str, str] = {}
        hidden: list[tuple[str, str]] = []
        for attrs in form["inputs"]:
            name = attrs.get("name", "")
            if attrs.get("type") == "radio" and name.startswith("panel-"):
                letters[attrs.get("data-letter", "")] = name[len("panel-") :]
            elif attrs.get("type") == "hidden":
                hidden.append((name, attrs.get("value", "")))
        fetches: dict[str, PanelFetch] = {}
        if fetch:
            for src in form["imgs"]:
                if "/panel/" in src:
                    panel = self.fetch_panel(src)
                    fetches[panel.token] = panel
        answers: dict[str, str] = {}
        for token in letters.values():
            if always_real:
                answers[token] = REAL
            else:
                sha = fetches[token].sha if token in fetches else None
                answers[token] = dictionary.get(sha) or rng.choice((REAL, SYNTHETIC))
        seen = RoundSeen(len(self.rounds) + 1, letters, fetches, answers)
        self.rounds.append(seen)
        fields = hidden + [(f"panel-{t}", a) for t, a in answers.items()]
        final, html, status = self.post(form["action"], fields)
        if status >= 400:
            raise RuntimeError(f"submission refused ({status} {final})")
        page = _parse(html)
        score = re.search(r"Your score: (\d+) / (\d+)", html)
        if score and "/result/" in final:
            seen.score = int(score.group(1))
        if "real-letters" in page.spans or "synthetic-letters" in page.spans:
            key = dict.fromkeys(_letters(page.spans.get("real-letters", "")), REAL)
            key.update(dict.fromkeys(_letters(page.spans.get("synthetic-letters", "")), SYNTHETIC))
            self._learn(seen, key, "result")
        if "/done/" in final:
            self._read_summary(html)
        return seen

    def finish(self) -> None:
        """Visit the summary page if the session has one (new code); keys there are learnt too."""
        if self.session_over:
            return
        # Not following redirects: a session not over yet is sent to /round/, which would open one.
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
        try:
            with opener.open(self.url(f"/quiz/{self.slug}/done/"), timeout=60) as response:
                self._read_summary(response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError:
            return  # a redirect (session not over) or no summary page (old code)

    def _read_summary(self, html: str) -> None:
        self.session_over = True
        for label, text in _parse(html).sections:
            number = re.search(r"round (\d+)", label)
            if number and 1 <= int(number.group(1)) <= len(self.rounds):
                round_ = self.rounds[int(number.group(1)) - 1]
                if not round_.key:
                    self._learn(round_, _key_from_text(text), "summary")

    def _learn(self, seen: RoundSeen, key: dict[str, str], on: str) -> None:
        for letter, kind in key.items():
            token = seen.letters.get(letter)
            if token in seen.fetches:
                seen.key[seen.fetches[token].sha] = kind
                self.known.setdefault(seen.fetches[token].sha, kind)
        if seen.key:
            seen.key_on = on


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


# ---------------------------------------------------------------- ground truth and statistics


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


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


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
            "median_real": _median(lengths[REAL]),
            "median_synthetic": _median(lengths[SYNTHETIC]),
            "distinct_lengths": len(set(lengths[REAL] + lengths[SYNTHETIC])),
            "images": [len(lengths[REAL]), len(lengths[SYNTHETIC])],
        },
        "ttfb_first_fetch_of_image": {
            "auc_real_gt_synthetic": auc(cold[REAL], cold[SYNTHETIC]),
            "median_real_ms": _median(cold[REAL]),
            "median_synthetic_ms": _median(cold[SYNTHETIC]),
            "n": [len(cold[REAL]), len(cold[SYNTHETIC])],
        },
        "ttfb_first_fetch_per_panel": {
            "auc_real_gt_synthetic": auc(per_token[REAL], per_token[SYNTHETIC]),
            "median_real_ms": _median(per_token[REAL]),
            "median_synthetic_ms": _median(per_token[SYNTHETIC]),
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
