"""A browser-like participant of benchmarks/quiz_attack.py: what the quiz's pages show it, and
what it sends back.

It reads pages with the standard library's HTML parser (forms and their fields, the answer-key
spans, the summary page's per-round keys), consents through the start page's form, fetches every
panel of a round (Content-Length, SHA-256 of the body, time to first byte) and learns the truth
of the panels' hashes from whatever key a page shows.
"""

from __future__ import annotations

import hashlib
import http.client
import http.cookiejar
import random
import re
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
