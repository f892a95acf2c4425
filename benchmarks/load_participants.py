"""The participants of benchmarks/load_quiz.py: simulated browsers that take whole sessions.

Each participant consents (the start page's GET and POST), opens the round page, fetches its ten
panels one after another, sends ten guesses, reads the result page and goes on to the next round;
a new participant when the session is over. Each sends its own X-Forwarded-For (addresses from
198.18.0.0/15, the benchmarking range; only a header, never a destination), and waits out a 429
(Retry-After, else 1 s) before sending the request again.

load_quiz runs this file by path as its client processes (asyncio, aiohttp), each printing its
figures as one line of JSON; it imports nothing from benchmarks/:

    python benchmarks/load_participants.py BASE_URL SLUG PARTICIPANTS SECONDS FIRST_ADDRESS

consented_participants() gives wrk its participants: consented, each with a round open.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import time
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from http.cookies import SimpleCookie

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)" id="round-form"')
_PANEL_SRC = re.compile(r'<img src="([^"]+\.png)"')
_PANEL_FIELD = re.compile(r'name="panel-([^"]+)" value="real"')


@dataclass
class Stats:
    """What participants saw: seconds per request of each page, errors and 429s per page."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    limited: Counter = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    participants: int = 0
    sessions_done: int = 0
    elapsed: float = 0.0

    def error(self, page: str, what: str) -> None:
        self.errors[page] += 1
        if len(self.error_samples) < 8:
            self.error_samples.append(f"{page}: {what}")

    def to_json(self) -> dict:
        return {
            "latencies": self.latencies,
            "errors": self.errors,
            "limited": self.limited,
            "error_samples": self.error_samples,
            "participants": self.participants,
            "sessions_done": self.sessions_done,
            "elapsed": self.elapsed,
        }

    def add(self, other: dict) -> None:
        """Adds a client process's figures (its to_json()); their times ran side by side."""
        for page, times in other["latencies"].items():
            self.latencies[page].extend(times)
        self.errors.update(other["errors"])
        self.limited.update(other["limited"])
        self.error_samples.extend(other["error_samples"][: 8 - len(self.error_samples)])
        self.participants += other["participants"]
        self.sessions_done += other["sessions_done"]


class Failed(Exception):
    """A request that did not get the expected answer: this participant stops."""


class Client:
    """One simulated browser: its own cookies and its own client address."""

    def __init__(
        self, http, base: str, stats: Stats, deadline: float, address: str, acked: dict
    ) -> None:
        self.http = http
        self.base = base
        self.stats = stats
        self.deadline = deadline
        self.headers = {"X-Forwarded-For": address, "X-Bench-Phase": "participants"}
        self.cookies: dict[str, str] = {}
        self.acknowledged = acked

    async def request(
        self, page: str, method: str, path: str, expect: set[int], data: dict | None = None
    ) -> tuple[int, str, str]:
        """(status, Location, body); raises Failed after counting the error."""
        import aiohttp

        while True:
            headers = dict(self.headers)
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            started = time.perf_counter()
            try:
                async with self.http.request(
                    method, self.base + path, data=data, headers=headers, allow_redirects=False
                ) as response:
                    body = await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.stats.error(page, f"{method} {path}: {type(exc).__name__} {exc}")
                raise Failed from exc
            elapsed = time.perf_counter() - started
            self._keep_cookies(response.headers.getall("Set-Cookie", []))
            if response.status == 429:
                self.stats.limited[page] += 1
                wait = float(response.headers.get("Retry-After", "1") or 1)
                if time.monotonic() + wait > self.deadline:
                    raise Failed
                await asyncio.sleep(wait)
                continue
            self.stats.latencies[page].append(elapsed)
            if response.status not in expect:
                self.stats.error(page, f"{method} {path}: HTTP {response.status}")
                raise Failed
            text = body.decode() if page != "panel" else ""
            return response.status, response.headers.get("Location", ""), text

    def _keep_cookies(self, headers: list[str]) -> None:
        for header in headers:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def over(self) -> bool:
        return time.monotonic() >= self.deadline

    async def consent(self, slug: str) -> None:
        start = f"/quiz/{slug}/"
        _, _, page = await self.request("start", "GET", start, {200})
        expertise = random.choice(["", "none", "student", "researcher", "sonographer"])
        form = {"csrfmiddlewaretoken": _CSRF.search(page)[1], "consent": "on"}
        form["expertise"] = expertise
        await self.request("consent", "POST", start, {302}, form)
        self.stats.participants += 1

    async def take_session(self, slug: str) -> None:
        """Consent, then rounds until the session is over or the time is."""
        await self.consent(slug)
        round_page = f"/quiz/{slug}/round/"
        done_page = f"/quiz/{slug}/done/"
        while not self.over():
            status, location, page = await self.request("grid", "GET", round_page, {200, 302})
            if status == 302:
                break  # the session is over: the round page sends to the summary
            action = _FORM_ACTION.search(page)[1]
            for src in _PANEL_SRC.findall(page):
                await self.request("panel", "GET", src, {200})
            answers = {t: random.choice(["real", "synthetic"]) for t in _PANEL_FIELD.findall(page)}
            form = {"csrfmiddlewaretoken": _CSRF.search(page)[1]}
            for token, answer in answers.items():
                form[f"panel-{token}"] = answer
                form[f"time-{token}"] = str(random.randint(400, 6000))
            _, location, _ = await self.request("submit", "POST", action, {302}, form)
            self.acknowledged.update(answers)  # the redirect is the acknowledgement
            if not location.endswith("/result/"):
                continue
            _, _, result = await self.request("result", "GET", location, {200})
            if f'href="{done_page}"' in result:
                break
        else:
            return
        await self.request("done", "GET", done_page, {200})
        self.stats.sessions_done += 1


def _address(number: int) -> str:
    return f"198.{18 + number // 65024 % 2}.{number // 254 % 256}.{number % 254 + 1}"


async def take_sessions(
    base: str, slug: str, participants: int, seconds: float, first_address: int
) -> tuple[Stats, dict[str, str]]:
    """``participants`` simulated participants taking whole sessions for ``seconds``."""
    import aiohttp

    stats, acknowledged = Stats(), {}
    numbers = iter(range(first_address, 10**9))
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=30)

    async def participant(http) -> None:
        while time.monotonic() < deadline:
            client = Client(http, base, stats, deadline, _address(next(numbers)), acknowledged)
            try:
                await client.take_session(slug)
            except Failed:
                await asyncio.sleep(0.1)  # a failed participant gives way to a new one

    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        started = time.perf_counter()
        await asyncio.gather(*(participant(http) for _ in range(participants)))
        stats.elapsed = time.perf_counter() - started
    return stats, acknowledged


def client_process(base: str, slug: str, participants: int, seconds: float, first: int) -> None:
    """One client process of the participants phase: its figures as JSON on stdout."""
    stats, acknowledged = asyncio.run(take_sessions(base, slug, participants, seconds, first))
    print(json.dumps({**stats.to_json(), "acknowledged": acknowledged}))


# ------------------------------------------------------------------ wrk's participants


def consented_participants(base: str, slug: str, count: int, first_address: int) -> list[str]:
    """Cookie headers of ``count`` participants who consented and opened their first round."""
    headers = []
    for number in range(first_address, first_address + count):
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        sent = {"X-Forwarded-For": _address(number), "X-Bench-Phase": "setup"}
        start = f"{base}/quiz/{slug}/"
        page = opener.open(urllib.request.Request(start, headers=sent)).read().decode()
        form = {"csrfmiddlewaretoken": _CSRF.search(page)[1], "consent": "on"}
        data = urllib.parse.urlencode(form).encode()
        opener.open(urllib.request.Request(start, data=data, headers=sent)).read()
        round_page = f"{start}round/"
        page = opener.open(urllib.request.Request(round_page, headers=sent)).read().decode()
        if not _FORM_ACTION.search(page):
            raise SystemExit(f"participant {number}: the round page has no round form")
        headers.append("; ".join(f"{cookie.name}={cookie.value}" for cookie in jar))
    return headers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url")
    parser.add_argument("slug")
    parser.add_argument("participants", type=int)
    parser.add_argument("seconds", type=float)
    parser.add_argument("first_address", type=int)
    args = parser.parse_args()
    client_process(args.base_url, args.slug, args.participants, args.seconds, args.first_address)


if __name__ == "__main__":
    main()
