"""Load on the quiz: wrk against gunicorn with the production settings, SQLite and PostgreSQL.

Prints figures, asserts nothing. For each database it builds a throwaway published study in a
fresh database (a SQLite file in a temporary folder; a temporary PostgreSQL database on
127.0.0.1:5432, user postgres, dropped afterwards) from synthetic pixel images rendered to
panels by the project's own functions, starts gunicorn on a free loopback port with the
production settings (DEBUG=0, a random SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, HTTPS=0) and the
tree's own gunicorn.conf.py (gthread; WEB_CONCURRENCY workers × WEB_THREADS threads, 2 × 4 unless
set), and measures with the same server:

1. ceiling: wrk GETs a bare Django view that renders the round page's 10-panel form after one
   query and never touches the session (benchmarks/load_urls.py, not in the product's URLs;
   gunicorn runs with DJANGO_SETTINGS_MODULE=benchmarks.load_settings, which changes only
   ROOT_URLCONF);
2. grid: wrk GETs the round page of ``--connections`` consented participants, each request with
   the next participant's cookies (a Lua script cycles through them), so that every request
   reads another participant's session and round;
3. participants: simulated participants take whole sessions for ``--duration`` seconds (in
   ``--participant-blocks`` blocks; each block starts new participants), each:
   consent (start page GET and POST), the round page, its ten panels one after another, ten
   guesses, the result page, the next round; a new participant when the session is over. They
   run in ``--client-processes`` Python processes (asyncio, aiohttp).

Ceiling and grid run in ``--blocks`` alternating blocks, so that whatever else the machine runs
meanwhile weighs on both; their ratio is only ever taken within one run. wrk is C and takes a
small part of one core per thread, so the server, not the client, sets the pace; the figures
say how much CPU each side took. When the client saturated (a wrk thread or a client process
busy over 90 % of the time), no ratio is printed: the client, not the server, set the pace.

``--baseline REV`` runs the same measurements on another revision side by side: its files
(``git archive REV``) with this tree's benchmarks/load_settings.py and load_urls.py copied in,
so both sides have the same ceiling view. Both servers run at once, each with its own database,
and every block alternates between them (one idles while the other is measured).

Each simulated participant sends its own X-Forwarded-For (addresses from 198.18.0.0/15, the
benchmarking range; only a header, never a destination) and the server runs with
CLIENT_IP_HEADER=HTTP_X_FORWARDED_FOR, as behind a reverse proxy, so per-IP limits see one
client per participant. A 429 is counted in its own column, not as an error: the participant
waits (Retry-After, else 1 s) and sends the request again. QUIZ_SUBMIT_RATE, QUIZ_START_RATE,
REDIS_URL, WEB_CONCURRENCY, WEB_THREADS and any other variable set in the caller's environment
reach the servers unchanged.

``--profile`` runs the servers with benchmarks/profile_settings.py, which times every middleware,
the queries, the session, the cache and the templates inside the workers
(benchmarks/request_profile.py), and prints where each page's time went, wall and CPU.

Printed per revision: requests, req/s and p50/p95/p99 per page type, errors (5xx, unexpected
statuses, connection errors and timeouts) and 429s; the grid page's req/s as a share of the
ceiling's; every acknowledged guess (a submission answered by a redirect) looked up in the
database; the CPU that gunicorn's workers, the client and everything else on the machine took,
in cores; for PostgreSQL, the connections to the benchmark database (pg_stat_activity): the
peak during the run, when the load stops and after gunicorn stops.

    python -m benchmarks.load_quiz                          # both databases, 50 connections
    python -m benchmarks.load_quiz --databases sqlite --baseline 65760a1
    python -m benchmarks.load_quiz --databases sqlite --block 5 --blocks 2 --duration 20
    python -m benchmarks.load_quiz --databases sqlite --profile

Needs wrk (Debian's `wrk` package) on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from http.cookies import SimpleCookie
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PANELS_PER_ROUND = 10
POSTGRES_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PAGE_ORDER = ("ceiling", "start", "consent", "grid", "panel", "submit", "result", "done")
# A client thread or process busier than this set the pace itself: its figures are not the server's.
SATURATED = 0.9
WRK_THREADS = 2

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)" id="round-form"')
_PANEL_SRC = re.compile(r'<img src="([^"]+\.png)"')
_PANEL_FIELD = re.compile(r'name="panel-([^"]+)" value="real"')

# wrk's script: every request carries the next participant's cookies, and the run ends with one
# line of JSON (latencies in microseconds). https://github.com/wg/wrk/blob/master/SCRIPTING
WRK_SCRIPT = r"""
local cookies = {}
local phase = ""
local position = 0
local threads = 0

function setup(thread)
  thread:set("first", threads * 17)
  threads = threads + 1
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then cookies[#cookies + 1] = line end
  end
  phase = args[2]
  position = first or 0
end

function request()
  position = position % #cookies + 1
  return wrk.format(nil, nil, {["Cookie"] = cookies[position], ["X-Bench-Phase"] = phase})
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"status_errors": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.status, e.connect, e.read, e.write, e.timeout))
end
"""


# ------------------------------------------------------------------ the study (a subprocess)


def _django() -> None:
    # Run with the tree under test first on PYTHONPATH (see _tree_env).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.load_settings")
    import django

    django.setup()


def build_study(images: int, size: int, rounds: int) -> dict[str, str]:
    """Migrate the fresh database and publish a study like tests/conftest.py's make_study."""
    _django()
    import numpy as np
    from django.core.files.base import ContentFile
    from django.core.management import call_command

    from quiz.imaging import encode_png, pixel_sha256
    from quiz.models import Dataset, Feedback, Image, ImageKind, Split, Study, TrainingRun

    try:
        from quiz.studies.panels import render_study_panels
        from quiz.studies.rounds import open_round, start_session
    except ModuleNotFoundError:  # a --baseline revision from before quiz/ had its rooms
        from quiz.panels import render_study_panels
        from quiz.rounds import open_round, start_session

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    rng = np.random.default_rng(0)
    dataset = Dataset.objects.create(name="load benchmark")
    run = TrainingRun.objects.create(dataset=dataset, name="load benchmark run", step=100)

    def image(kind: str, split: str = "", seed: int | None = None) -> Image:
        pixels = rng.integers(0, 256, size=(size, size), dtype=np.uint8)
        synthetic = kind == ImageKind.SYNTHETIC
        return Image.objects.create(
            kind=kind,
            dataset=None if synthetic else dataset,
            split=split,
            training_run=run if synthetic else None,
            checkpoint_step=100 if synthetic else None,
            seed=seed,
            width=size,
            height=size,
            sha256=pixel_sha256(pixels),
            file=ContentFile(encode_png(pixels), name="image.png"),
        )

    shown = [image(ImageKind.REAL, Split.HELD_OUT) for _ in range(images)]
    shown += [image(ImageKind.SYNTHETIC, seed=index) for index in range(images)]
    run.trained_images.set(image(ImageKind.REAL, Split.TRAIN) for _ in range(4))
    study = Study.objects.create(
        name="Load benchmark",
        slug="load",
        panel_size=size,
        panels_per_round=PANELS_PER_ROUND,
        rounds_per_session=rounds,
        feedback=Feedback.SCORE_ONLY,
    )
    study.images.set(shown)
    render_study_panels(study)
    study.is_published = True
    study.save()
    # The ceiling view's round: an audit participant, so it never counts as a showing.
    bare = open_round(start_session(study, is_audit=True))
    return {"slug": study.slug, "bare_round": bare.token}


def verify_guesses(path: Path) -> dict[str, int]:
    """Every acknowledged guess (panel token → answer) looked up in the database."""
    _django()
    from quiz.models import Guess

    acknowledged: dict[str, str] = json.loads(path.read_text())
    tokens = list(acknowledged)
    stored: dict[str, str] = {}
    for start in range(0, len(tokens), 500):
        chunk = tokens[start : start + 500]
        stored.update(
            Guess.objects.filter(panel__token__in=chunk).values_list("panel__token", "answer")
        )
    return {
        "acknowledged": len(acknowledged),
        "found": len(stored),
        "missing": len(acknowledged) - len(stored),
        "different_answer": sum(stored[t] != a for t, a in acknowledged.items() if t in stored),
        "guesses_in_database": Guess.objects.count(),
    }


# ------------------------------------------------------------------ whole sessions (Python client)


@dataclass
class Stats:
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


# ------------------------------------------------------------------ CPU accounting


def _children_cpu() -> float:
    """CPU seconds of this process's finished, waited-for children (wrk, client processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(master: int) -> float:
    """CPU seconds gunicorn has taken so far: its workers', live or ended, and the master's.

    gunicorn replaces a worker after max_requests; the master reaps it, so an ended worker's
    CPU is in the master's cutime and cstime.
    """
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended meanwhile
        # Fields after the name: state, ppid, ... utime (11), stime, cutime, cstime (14).
        if int(stat.parent.name) == master:
            ticks += sum(int(value) for value in fields[11:15])
        elif int(fields[1]) == master:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """CPU seconds the whole machine spent so far (/proc/stat, less idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Cpu:
    """CPU seconds taken while a phase ran: the server's workers, the client, everything else."""

    seconds: float = 0.0
    server: float = 0.0
    client: float = 0.0
    machine: float = 0.0
    # How busy the client was: wrk's CPU over its threads' time (wrk spreads the connections
    # evenly over its threads); of the client processes, the busiest's CPU over its time.
    client_busiest: float = 0.0

    def cores(self, part: float) -> float:
        return part / self.seconds if self.seconds else 0.0

    def add(self, other: Cpu) -> None:
        self.seconds += other.seconds
        self.server += other.server
        self.client += other.client
        self.machine += other.machine
        self.client_busiest = max(self.client_busiest, other.client_busiest)

    @property
    def other(self) -> float:
        return max(0.0, self.machine - self.server - self.client)

    @property
    def client_saturated(self) -> bool:
        return self.client_busiest >= SATURATED

    def line(self, client: str) -> str:
        return (
            f"CPU, cores: gunicorn {self.cores(self.server):.2f}, {client} "
            f"{self.cores(self.client):.2f} ({self.client_busiest:.0%} busy), everything else "
            f"{self.cores(self.other):.2f}"
        )


@contextmanager
def _cpu_of(cpu: Cpu, master: int) -> Iterator[None]:
    started = time.perf_counter()
    server, client, machine = _server_cpu(master), _children_cpu(), _machine_busy()
    yield
    cpu.seconds += time.perf_counter() - started
    cpu.server += _server_cpu(master) - server
    cpu.client += _children_cpu() - client
    cpu.machine += _machine_busy() - machine


# ------------------------------------------------------------------ wrk


@dataclass
class WrkRuns:
    """The blocks of one page under wrk: requests, seconds, per-block latency percentiles."""

    requests: int = 0
    seconds: float = 0.0
    p50_ms: list[float] = field(default_factory=list)
    p95_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    cpu: Cpu = field(default_factory=Cpu)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def row(self) -> dict:
        return {
            "requests": self.requests,
            "per_second": self.per_second,
            # wrk reports each block's percentiles: the median block's, and the worst p99.
            "p50_ms": statistics.median(self.p50_ms) if self.p50_ms else float("nan"),
            "p95_ms": statistics.median(self.p95_ms) if self.p95_ms else float("nan"),
            "p99_ms": max(self.p99_ms, default=float("nan")),
            "errors": sum(self.errors.values()),
            "429": 0,
        }


def run_wrk(
    url: str, cookies: Path, script: Path, connections: int, seconds: float, phase: str
) -> dict:
    threads = min(WRK_THREADS, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s"]
    command += ["-s", str(script), url, "--", str(cookies), phase]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode:
        raise SystemExit(f"wrk failed: {completed.stderr.strip() or completed.stdout[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure_wrk(runs: WrkRuns, server: Server, page: str, seconds: float, phase: str) -> None:
    cpu = Cpu()
    with _cpu_of(cpu, server.master):
        figures = run_wrk(
            _url(server, page), server.cookies, server.script, server.connections, seconds, phase
        )
    threads = min(WRK_THREADS, server.connections)
    cpu.client_busiest = cpu.client / (threads * cpu.seconds) if cpu.seconds else 0.0
    runs.cpu.add(cpu)
    runs.requests += figures["requests"]
    runs.seconds += figures["duration_us"] / 1e6
    runs.p50_ms.append(figures["p50_us"] / 1000)
    runs.p95_ms.append(figures["p95_us"] / 1000)
    runs.p99_ms.append(figures["p99_us"] / 1000)
    for kind in ("status", "connect", "read", "write"):
        runs.errors[kind] += figures[f"{kind}_errors"]
    runs.errors["timeout"] += figures["timeouts"]


# ------------------------------------------------------------------ databases, trees and servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[tuple[str, str]]:
    """(DATABASE_URL, database name) of an empty database, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'db.sqlite3'}", ""
        return
    import psycopg

    name = f"load_quiz_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def baseline_tree(revision: str) -> Iterator[Path]:
    """The files of ``revision`` in a temporary folder, with this tree's load_settings/load_urls."""
    archived = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision], capture_output=True
    )
    if archived.returncode:
        raise SystemExit(f"--baseline {revision}: {archived.stderr.decode().strip()}")
    folder = Path(tempfile.mkdtemp(prefix="load-quiz-baseline-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(archived.stdout)) as archive:
            archive.extractall(folder, filter="data")
        for name in (
            "load_settings.py",
            "load_urls.py",
            "profile_settings.py",
            "request_profile.py",
        ):
            shutil.copy(REPO / "benchmarks" / name, folder / "benchmarks" / name)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _short_revision(revision: str) -> str:
    described = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", revision], capture_output=True, text=True
    )
    return described.stdout.strip() or revision


class ConnectionSampler:
    """The server's connections to one PostgreSQL database, sampled while a phase runs."""

    def __init__(self, database: str) -> None:
        import psycopg

        self.database = database
        self.connection = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True)
        self.peak = (0, 0)

    def count(self) -> tuple[int, int]:
        """(connections, of which active) to the database, other than this process's."""
        row = self.connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity "
            "WHERE datname = %s",
            [self.database],
        ).fetchone()
        return int(row[0]), int(row[1])

    def __enter__(self) -> ConnectionSampler:
        return self

    def __exit__(self, *_) -> None:
        self.connection.close()


@dataclass
class Server:
    """One revision under test: its database, its gunicorn, its participants for wrk."""

    name: str
    tree: Path
    folder: Path
    env: dict[str, str]
    slug: str = ""
    bare_round: str = ""
    base: str = ""
    master: int = 0
    connections: int = 0
    cookies: Path = Path()
    script: Path = Path()
    sampler: ConnectionSampler | None = None
    wrk: dict[str, WrkRuns] = field(
        default_factory=lambda: {"ceiling": WrkRuns(), "grid": WrkRuns()}
    )
    sessions: Stats = field(default_factory=Stats)
    sessions_cpu: Cpu = field(default_factory=Cpu)
    acknowledged: dict[str, str] = field(default_factory=dict)
    connection_peaks: dict[str, tuple[int, int]] = field(default_factory=dict)


def _tree_env(tree: Path, folder: Path, database_url: str, profile: bool) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": f"benchmarks.{'profile' if profile else 'load'}_settings",
        "PROFILE_DIR": str(folder / "profile"),
        "PYTHONPATH": str(tree),
        "DATABASE_URL": database_url,
        "VAR_DIR": str(folder),
        "MEDIA_ROOT": str(folder / "media"),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "HTTPS": "0",
        "CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR",
    }


def _subprocess_json(server: Server, *arguments: str) -> dict:
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *arguments],
        env=server.env,
        cwd=server.tree,
        capture_output=True,
        text=True,
    )
    if completed.returncode:
        raise SystemExit(f"{' '.join(arguments)} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


@contextmanager
def gunicorn(server: Server) -> Iterator[None]:
    """Runs the tree's gunicorn (its gunicorn.conf.py) for the study, stopped afterwards."""
    port = _free_port()
    log = (server.folder / "gunicorn.log").open("w")
    command = [sys.executable, "-m", "gunicorn", "webapp.wsgi:application"]
    command += ["-c", str(server.tree / "gunicorn.conf.py"), f"--bind=127.0.0.1:{port}"]
    process = subprocess.Popen(
        command, env=server.env, cwd=server.tree, stdout=log, stderr=subprocess.STDOUT
    )
    server.base, server.master = f"http://127.0.0.1:{port}", process.pid
    try:
        _wait_until_serving(server.base + f"/quiz/{server.slug}/", process, server.folder)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_serving(url: str, process: subprocess.Popen, folder: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{(folder / 'gunicorn.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer {url} within 60 s")


def consented_participants(server: Server, count: int, first_address: int) -> list[str]:
    """Cookie headers of ``count`` participants who consented and opened their first round."""
    headers = []
    for number in range(first_address, first_address + count):
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        sent = {"X-Forwarded-For": _address(number), "X-Bench-Phase": "setup"}
        start = f"{server.base}/quiz/{server.slug}/"
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


def run_participants(
    server: Server, participants: int, processes: int, seconds: float, first: int
) -> tuple[Stats, dict[str, str], Cpu]:
    """Whole sessions for ``seconds`` in client processes: their figures, guesses and CPU."""
    shares = [participants // processes + (i < participants % processes) for i in range(processes)]
    cpu = Cpu()
    started = time.perf_counter()
    server_cpu, machine = _server_cpu(server.master), _machine_busy()
    children = []
    for index, share in enumerate(shares):
        command = [sys.executable, str(Path(__file__).resolve()), "--client", server.base]
        command += [server.slug, str(share), str(seconds), str(first + index * 100_000)]
        children.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
    stats, acknowledged = Stats(), {}
    for child in children:
        output = child.stdout.read()
        # wait4: this child's own CPU, to tell whether one client process was saturated.
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            raise SystemExit(f"a client process failed (exit {child.returncode})")
        figures = json.loads(output.strip().splitlines()[-1])
        stats.add(figures)
        stats.elapsed = max(stats.elapsed, figures["elapsed"])
        acknowledged.update(figures["acknowledged"])
        own = usage.ru_utime + usage.ru_stime
        cpu.client += own
        cpu.client_busiest = max(cpu.client_busiest, own / (time.perf_counter() - started))
    cpu.seconds = time.perf_counter() - started
    cpu.server = _server_cpu(server.master) - server_cpu
    cpu.machine = _machine_busy() - machine
    return stats, acknowledged, cpu


# ------------------------------------------------------------------ figures


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def session_rows(stats: Stats) -> dict[str, dict]:
    table: dict[str, dict] = {}
    pages = set(stats.latencies) | set(stats.errors) | set(stats.limited)
    for page in sorted(pages, key=PAGE_ORDER.index):
        times = stats.latencies.get(page, [])
        table[page] = {
            "requests": len(times),
            "per_second": len(times) / stats.elapsed if stats.elapsed else 0.0,
            "p50_ms": _percentile(times, 50) * 1000,
            "p95_ms": _percentile(times, 95) * 1000,
            "p99_ms": _percentile(times, 99) * 1000,
            "errors": stats.errors.get(page, 0),
            "429": stats.limited.get(page, 0),
        }
    return table


def figures_of(server: Server) -> dict:
    ceiling, grid = server.wrk["ceiling"], server.wrk["grid"]
    saturated = ceiling.cpu.client_saturated or grid.cpu.client_saturated
    sessions = session_rows(server.sessions)
    requests = sum(row["requests"] for row in sessions.values())
    return {
        "ceiling": ceiling.row(),
        "grid": grid.row(),
        "wrk_errors": {"ceiling": dict(ceiling.errors), "grid": dict(grid.errors)},
        "wrk_cpu": {name: vars(runs.cpu) for name, runs in server.wrk.items()},
        "client_saturated": saturated,
        "grid_share_of_ceiling": None
        if saturated or not ceiling.per_second
        else grid.per_second / ceiling.per_second,
        "sessions": sessions,
        "sessions_summary": {
            "requests": requests,
            "per_second": requests / server.sessions.elapsed if server.sessions.elapsed else 0.0,
            "participants": server.sessions.participants,
            "sessions_done": server.sessions.sessions_done,
            "seconds": server.sessions.elapsed,
            "server_cpu_ms_per_request": server.sessions_cpu.server * 1000 / requests
            if requests
            else 0.0,
        },
        "sessions_cpu": vars(server.sessions_cpu),
        "sessions_client_saturated": server.sessions_cpu.client_saturated,
        "errors": server.sessions.error_samples,
        "connections": server.connection_peaks or None,
    }


def _row(name: str, row: dict) -> str:
    return (
        f"  {name:<22}{row['requests']:>9}{row['per_second']:>9.1f}{row['p50_ms']:>9.1f}"
        f"{row['p95_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['errors']:>8}{row['429']:>6}"
    )


def report(kind: str, server: Server, figures: dict, args: argparse.Namespace) -> None:
    print(f"\n{kind}, {server.name}: gunicorn {server.tree / 'gunicorn.conf.py'}")
    print(
        f"  {'phase/page':<22}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'errors':>8}{'429':>6}"
    )
    print(_row("ceiling (wrk)", figures["ceiling"]))
    print(_row("grid (wrk)", figures["grid"]))
    for page, row in figures["sessions"].items():
        print(_row(f"participants/{page}", row))
    print(
        f"  (wrk: {args.connections} connections, {WRK_THREADS} threads, {args.blocks} blocks "
        f"of {args.block:g} s each; p50 and p95 of the median block, p99 of the worst. "
        "429: refused by a rate limit, retried after Retry-After; not a server error)"
    )
    for name, runs in server.wrk.items():
        cost = runs.cpu.server * 1000 / runs.requests if runs.requests else 0.0
        print(f"  {name}: {runs.cpu.line('wrk')}; gunicorn {cost:.2f} CPU ms per request")
        errors = {k: v for k, v in runs.errors.items() if v}
        if errors:
            print(f"  {name}: wrk errors {errors}")
    if figures["client_saturated"]:
        print(
            "  grid page as a share of the ceiling: none; a wrk thread was busy over "
            f"{SATURATED:.0%} of the time, so the client, not the server, set the pace"
        )
    else:
        print(
            "  grid page req/s as a share of the ceiling's: "
            f"{figures['grid_share_of_ceiling']:.0%} (goal: at least 50 %)"
        )
    costs = [runs.cpu.server / runs.requests for runs in server.wrk.values() if runs.requests]
    if len(costs) == 2:
        # CPU per request moves less than req/s with what else the machine runs meanwhile.
        print(f"  by gunicorn CPU per request, ceiling / grid: {costs[0] / costs[1]:.0%}")
    summary = figures["sessions_summary"]
    print(
        f"  participants: {summary['participants']} consented, {summary['sessions_done']} "
        f"sessions finished, {summary['per_second']:.1f} req/s, gunicorn "
        f"{summary['server_cpu_ms_per_request']:.2f} CPU ms per request"
    )
    print(
        f"  participants: {server.sessions_cpu.line(f'{args.client_processes} client processes')}"
    )
    if figures["sessions_client_saturated"]:
        print(
            f"  participants: a client process was busy over {SATURATED:.0%} of the time: "
            "these latencies are partly the client's"
        )
    g = figures["guesses"]
    print(
        f"  guesses: {g['acknowledged']} acknowledged, {g['found']} found in the database, "
        f"{g['missing']} missing, {g['different_answer']} with another answer "
        f"({g['guesses_in_database']} guess rows in all)"
    )
    for when, (total, active) in (figures["connections"] or {}).items():
        print(f"  PostgreSQL connections {when}: {total} ({active} active)")
    for sample in figures["errors"]:
        print(f"  error: {sample}")


def read_profiles(folder: Path) -> dict[str, dict[str, list[float]]]:
    """The workers' totals (benchmarks/request_profile.py), added up: page → part → totals."""
    totals: dict[str, dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0.0, 0.0])
    )
    for path in folder.glob("*.json"):
        for page, parts in json.loads(path.read_text()).items():
            for name, (calls, wall, cpu) in parts.items():
                entry = totals[page][name]
                entry[0] += calls
                entry[1] += wall
                entry[2] += cpu
    return totals


def print_profile(profile: dict[str, dict[str, list[float]]]) -> None:
    """Per page: each part's own time per request, wall and CPU (benchmarks/request_profile.py)."""
    print(
        "  where the time went inside the workers (ms per request: wall / CPU; calls per request)"
    )
    for page, parts in sorted(profile.items()):
        requests = parts.pop("(requests)")[0]
        if page.startswith(("warm-up", "setup")) or requests < 20:
            continue
        wall = sum(entry[1] for entry in parts.values()) * 1000 / requests
        cpu = sum(entry[2] for entry in parts.values()) * 1000 / requests
        print(f"    {page}: {requests} requests, {wall:.2f} / {cpu:.2f} ms in Django")
        for name, (calls, wall_s, cpu_s) in sorted(parts.items(), key=lambda kv: -kv[1][1]):
            print(
                f"      {name:<52}{wall_s * 1000 / requests:>8.2f} /{cpu_s * 1000 / requests:>6.2f}"
                f"   {calls / requests:>5.1f}"
            )


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _busy_others() -> str:
    """The processes, other than this benchmark's, that used the most CPU in the last second."""
    own = {os.getpid()}

    def ticks() -> dict[int, tuple[str, int]]:
        found = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with suppress(OSError, ValueError, IndexError):
                text = stat.read_text()
                name = text[text.index("(") + 1 : text.rindex(")")]
                fields = text.rsplit(")", 1)[1].split()
                found[int(stat.parent.name)] = (name, int(fields[11]) + int(fields[12]))
        return found

    before = ticks()
    time.sleep(1.0)
    after = ticks()
    used = Counter()
    for pid, (name, total) in after.items():
        if pid not in own and pid in before:
            used[name] += total - before[pid][1]
    clock = os.sysconf("SC_CLK_TCK")
    busy = [f"{name} {count / clock:.2f}" for name, count in used.most_common(4) if count]
    return ", ".join(busy) or "nothing"


# ------------------------------------------------------------------ the run


def run_database(kind: str, trees: list[tuple[str, Path]], args: argparse.Namespace) -> dict:
    with ExitStack() as stack:
        servers = []
        for name, tree in trees:
            folder = Path(tempfile.mkdtemp(prefix=f"load-quiz-{kind}-"))
            stack.callback(shutil.rmtree, folder, True)
            url, database = stack.enter_context(fresh_database(kind, folder))
            server = Server(name, tree, folder, _tree_env(tree, folder, url, args.profile))
            (folder / "staticfiles").mkdir()
            (folder / "profile").mkdir()
            built = _subprocess_json(
                server, "--build", str(args.images), str(args.panel_size), str(args.rounds)
            )
            server.slug, server.bare_round = built["slug"], built["bare_round"]
            if database:
                server.sampler = stack.enter_context(ConnectionSampler(database))
            servers.append(server)
        with ExitStack() as running:
            for server in servers:
                running.enter_context(gunicorn(server))
                _prepare_wrk(server, args.connections)
            print(
                f"{kind}: {', '.join(s.name for s in servers)}; load average {_load()} on "
                f"{os.cpu_count()} CPUs; busiest other processes (cores): {_busy_others()}",
                flush=True,
            )
            for server in servers:  # warm-up, not reported
                run_participants(server, 10, args.client_processes, 3, 900_000)
                for page in ("ceiling", "grid"):
                    measure_wrk(WrkRuns(), server, page, 2, "warm-up")
            _alternate(servers, args)
            print(f"  load average after the run: {_load()}", flush=True)
            if any(server.sampler for server in servers):
                time.sleep(1.0)
            for server in servers:
                _sample(server, "after the load, server up", peak=False)
        if any(server.sampler for server in servers):
            time.sleep(0.5)
        results = {}
        for server in servers:
            _sample(server, "after gunicorn stopped", peak=False)
            acknowledged = server.folder / "acknowledged.json"
            acknowledged.write_text(json.dumps(server.acknowledged))
            figures = figures_of(server)
            figures["guesses"] = _subprocess_json(server, "--verify", str(acknowledged))
            if args.profile:
                figures["profile"] = read_profiles(server.folder / "profile")
            results[server.name] = figures
    for server in servers:
        report(kind, server, results[server.name], args)
        if args.profile:
            print_profile(results[server.name]["profile"])
    if len(servers) == 2:
        _compare(servers, *(results[s.name] for s in servers))
    return results


def _prepare_wrk(server: Server, connections: int) -> None:
    """The cookies of ``connections`` consented participants, and wrk's script, in files."""
    server.connections = connections
    server.cookies = server.folder / "cookies.txt"
    server.cookies.write_text("\n".join(consented_participants(server, connections, 0)) + "\n")
    server.script = server.folder / "cookies.lua"
    server.script.write_text(WRK_SCRIPT)


def _url(server: Server, page: str) -> str:
    if page == "ceiling":
        return f"{server.base}/bench/bare/{server.bare_round}/"
    return f"{server.base}/quiz/{server.slug}/round/"


def _alternate(servers: list[Server], args: argparse.Namespace) -> None:
    """Ceiling and grid blocks, then participants blocks, alternating between the servers."""
    print(
        f"  ceiling and grid (wrk): {args.connections} connections, {args.blocks} alternating "
        f"blocks of {args.block:g} s each per page and revision ...",
        flush=True,
    )
    for block in range(args.blocks):
        # ABBA order, so that neither side always runs first.
        order = servers if block % 2 == 0 else servers[::-1]
        pages = ("ceiling", "grid") if block % 2 == 0 else ("grid", "ceiling")
        for server in order:
            for page in pages:
                measure_wrk(server.wrk[page], server, page, args.block, page)
                _sample(server, "during the run (peak)")
    seconds = args.duration / args.participant_blocks
    print(
        f"  participants: {args.participants} concurrent in {args.client_processes} processes, "
        f"{args.participant_blocks} alternating blocks of {seconds:g} s each per revision ...",
        flush=True,
    )
    for block in range(args.participant_blocks):
        order = servers if block % 2 == 0 else servers[::-1]
        for server in order:
            stats, acknowledged, cpu = run_participants(
                server, args.participants, args.client_processes, seconds, 1_000 + block * 10**6
            )
            server.sessions.add(stats.to_json())
            server.sessions.elapsed += stats.elapsed
            server.acknowledged.update(acknowledged)
            server.sessions_cpu.add(cpu)
            _sample(server, "during the run (peak)")


def _sample(server: Server, when: str, peak: bool = True) -> None:
    if server.sampler is None:
        return
    count = server.sampler.count()
    if peak:
        server.sampler.peak = tuple(map(max, server.sampler.peak, count))
        count = server.sampler.peak
    server.connection_peaks[when] = count


def _compare(servers: list[Server], before: dict, after: dict) -> None:
    print(f"\n  {servers[0].name} → {servers[1].name}, measured in the same run:")
    for name, figures in (("before", before), ("after", after)):
        share = figures["grid_share_of_ceiling"]
        ratio = "no ratio (client saturated)" if share is None else f"{share:.0%} of the ceiling"
        consent = figures["sessions"].get("consent", {"p50_ms": math.nan, "p95_ms": math.nan})
        print(
            f"  {name}: ceiling {figures['ceiling']['per_second']:.0f} req/s, grid "
            f"{figures['grid']['per_second']:.0f} req/s = {ratio}, grid p50 "
            f"{figures['grid']['p50_ms']:.0f} ms; consent p50 {consent['p50_ms']:.0f} ms, "
            f"p95 {consent['p95_ms']:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgres"])
    parser.add_argument("--baseline", metavar="REV", help="also measure this git revision")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--block", type=int, default=10, help="seconds of one wrk block")
    parser.add_argument("--blocks", type=int, default=3, help="alternating wrk blocks")
    parser.add_argument("--participants", type=int, default=50, help="concurrent participants")
    parser.add_argument("--duration", type=float, default=60.0, help="participants phase, s")
    parser.add_argument(
        "--participant-blocks", type=int, default=2, help="alternating participants blocks"
    )
    parser.add_argument("--client-processes", type=int, default=2, help="participants' clients")
    parser.add_argument("--images", type=int, default=60, help="real and synthetic, each")
    parser.add_argument("--panel-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5, help="rounds per session")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="time each middleware, the queries, session, cache and template in the workers",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    # Internal: the parts that need Django run in a subprocess with the database's settings.
    parser.add_argument("--build", nargs=3, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--verify", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        print(json.dumps(build_study(*args.build)))
        return
    if args.verify:
        print(json.dumps(verify_guesses(args.verify)))
        return
    if args.client:
        base, slug, participants, seconds, first = args.client
        client_process(base, slug, int(participants), float(seconds), int(first))
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    figures = {}
    with ExitStack() as stack:
        trees = []
        if args.baseline:
            path = stack.enter_context(baseline_tree(args.baseline))
            trees.append((f"baseline {_short_revision(args.baseline)}", path))
        trees.append(("this tree", REPO))
        for kind in args.databases or ["sqlite", "postgres"]:
            if kind == "postgres" and not postgres_answers():
                print("postgres: no server answers at 127.0.0.1:5432; skipped")
                continue
            figures[kind] = run_database(kind, trees, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
