"""Load on the quiz: gunicorn with the production settings on loopback, SQLite and PostgreSQL.

Prints figures, asserts nothing. For each database it builds a throwaway published study in a
fresh database (a SQLite file in a temporary folder; a temporary PostgreSQL database on
127.0.0.1:5432, user postgres, dropped afterwards) from synthetic pixel images rendered to
panels by the project's own functions, starts gunicorn on a free loopback port with the
production settings (DEBUG=0, a random SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, HTTPS=0) and then,
after a short warm-up, runs three phases with the same server:

1. ceiling: ``--participants`` connections GET a bare Django view that renders the round page's
   10-panel form after one query (benchmarks/load_urls.py, not in the product's URLs; gunicorn
   runs with DJANGO_SETTINGS_MODULE=benchmarks.load_settings, which changes only ROOT_URLCONF);
2. grid: as many consented participants GET their own open round page, over and over
   (ceiling and grid alternate in ``--blocks`` blocks, so that whatever else the machine runs
   meanwhile weighs on both);
3. participants: simulated participants for ``--duration`` seconds, each: consent (start page
   GET and POST), fetch the round page, fetch its ten panels one after another, post ten
   guesses, read the result page, next round; a new participant when the session is over.

Each simulated participant sends its own X-Forwarded-For (addresses from 198.18.0.0/15, the
benchmarking range; only a header, never a destination) and the server runs with
CLIENT_IP_HEADER=HTTP_X_FORWARDED_FOR, as behind a reverse proxy, so per-IP limits see one
client per participant. A 429 is counted in its own column, not as an error: the participant
waits (Retry-After, else 1 s) and sends the request again. QUIZ_SUBMIT_RATE, QUIZ_START_RATE and
any other variable set in the caller's environment reach the server unchanged.

Printed: requests, req/s and p50/p95/p99 per page type, errors (5xx, unexpected statuses,
connection errors and timeouts) and 429s; the grid page's req/s as a share of the ceiling's;
every acknowledged guess (a submission answered by a redirect) looked up in the database;
the CPU that gunicorn's workers and the client took, in cores; for PostgreSQL, the connections
to the benchmark database (pg_stat_activity): the peak during the run, when the load stops and
after gunicorn stops.

    python -m benchmarks.load_quiz                      # both databases, 50 participants, 60 s
    python -m benchmarks.load_quiz --databases sqlite --participants 20 --duration 20

The client is one asyncio process (aiohttp) on the same machine as the server, so on a small
machine it takes CPU from gunicorn; compare figures from the same run (the ratio), not across
machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PANELS_PER_ROUND = 10
POSTGRES_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PAGE_ORDER = ("ceiling", "start", "consent", "grid", "panel", "submit", "result", "done")

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)" id="round-form"')
_PANEL_SRC = re.compile(r'<img src="([^"]+\.png)"')
_PANEL_FIELD = re.compile(r'name="panel-([^"]+)" value="real"')


# ------------------------------------------------------------------ the study (a subprocess)


def _django() -> None:
    sys.path.insert(0, str(REPO))
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
    from quiz.panels import render_study_panels
    from quiz.rounds import open_round, start_session

    call_command("migrate", verbosity=0, interactive=False)
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


# ------------------------------------------------------------------ the client


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    limited: Counter = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    participants: int = 0
    sessions_done: int = 0
    elapsed: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    def error(self, page: str, what: str) -> None:
        self.errors[page] += 1
        if len(self.error_samples) < 8:
            self.error_samples.append(f"{page}: {what}")


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
        self.headers = {"X-Forwarded-For": address}
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


async def _run_phase(
    participants: int, duration: float, body: Callable[[int, float], Awaitable[None]]
) -> float:
    deadline = time.monotonic() + duration
    started = time.perf_counter()
    await asyncio.gather(*(body(index, deadline) for index in range(participants)))
    return time.perf_counter() - started


def _address(number: int) -> str:
    return f"198.{18 + number // 65024 % 2}.{number // 254 % 256}.{number % 254 + 1}"


async def _measured(
    stats: Stats,
    concurrent: int,
    duration: float,
    make: Callable[[Stats], Callable[[int, float], Awaitable[None]]],
    server: int,
) -> None:
    """Run one block of a phase, adding its time and the CPU it took (client, server)."""
    client_before, server_before = _own_cpu(), _server_cpu(server)
    stats.elapsed += await _run_phase(concurrent, duration, make(stats))
    stats.client_cpu += _own_cpu() - client_before
    stats.server_cpu += _server_cpu(server) - server_before


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(master: int) -> float:
    """CPU seconds of gunicorn's workers so far (the master only waits)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended meanwhile
        if int(fields[1]) == master:  # fields after the name: state, ppid, ... utime, stime
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def drive(
    base: str,
    server: int,
    slug: str,
    bare_round: str,
    args: argparse.Namespace,
    acknowledged: dict,
) -> dict[str, Stats]:
    """Warm-up, then the ceiling, grid and participants phases; their figures by phase."""
    import aiohttp

    numbers = iter(range(10**9))
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:

        def client(stats: Stats, deadline: float) -> Client:
            return Client(http, base, stats, deadline, _address(next(numbers)), acknowledged)

        def participants(stats: Stats) -> Callable[[int, float], Awaitable[None]]:
            async def loop(_: int, deadline: float) -> None:
                while time.monotonic() < deadline:
                    try:
                        await client(stats, deadline).take_session(slug)
                    except Failed:
                        await asyncio.sleep(0.1)  # a failed participant gives way to a new one

            return loop

        def ceiling(stats: Stats) -> Callable[[int, float], Awaitable[None]]:
            async def loop(_: int, deadline: float) -> None:
                browser = client(stats, deadline)
                while not browser.over():
                    try:
                        await browser.request("ceiling", "GET", f"/bench/bare/{bare_round}/", {200})
                    except Failed:
                        await asyncio.sleep(0.1)

            return loop

        def grid(stats: Stats, browsers: list[Client]) -> Callable[[int, float], Awaitable[None]]:
            async def loop(index: int, deadline: float) -> None:
                browser = browsers[index]
                browser.deadline = deadline
                while not browser.over():
                    try:
                        await browser.request("grid", "GET", f"/quiz/{slug}/round/", {200})
                    except Failed:
                        await asyncio.sleep(0.1)

            return loop

        warm = Stats()
        await _run_phase(args.participants, args.warmup, participants(warm))
        await _run_phase(args.participants, min(args.warmup, 2.0), ceiling(warm))
        if warm.errors:
            print(f"  warm-up errors: {dict(warm.errors)}; e.g. {warm.error_samples[:3]}")

        results = {name: Stats() for name in ("ceiling", "grid", "participants")}
        browsers = []
        for _ in range(args.participants):  # they consent outside the measured time
            browser = client(Stats(), time.monotonic() + 60)
            try:
                await browser.consent(slug)
                await browser.request("grid", "GET", f"/quiz/{slug}/round/", {200})
            except Failed:
                continue
            browser.stats = results["grid"]
            browsers.append(browser)
        # Alternating blocks, so that a change in what else the machine runs falls on both.
        block = args.ceiling_duration / args.blocks
        print(
            f"  ceiling and grid: {args.participants} concurrent, {args.blocks} alternating "
            f"blocks of {block:.1f} s each ...",
            flush=True,
        )
        for _ in range(args.blocks):
            await _measured(results["ceiling"], args.participants, block, ceiling, server)
            await _measured(
                results["grid"], len(browsers), block, lambda s: grid(s, browsers), server
            )
        print(f"  participants: {args.participants} concurrent, {args.duration:.0f} s ...")
        await _measured(
            results["participants"], args.participants, args.duration, participants, server
        )
    return results


# ------------------------------------------------------------------ figures


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def summarise(results: dict[str, Stats]) -> dict[str, dict]:
    table: dict[str, dict] = {}
    for phase, stats in results.items():
        for page in sorted(
            set(stats.latencies) | set(stats.errors) | set(stats.limited), key=PAGE_ORDER.index
        ):
            times = stats.latencies.get(page, [])
            table[f"{phase}/{page}"] = {
                "requests": len(times),
                "per_second": len(times) / stats.elapsed if stats.elapsed else 0.0,
                "p50_ms": _percentile(times, 50) * 1000,
                "p95_ms": _percentile(times, 95) * 1000,
                "p99_ms": _percentile(times, 99) * 1000,
                "errors": stats.errors.get(page, 0),
                "429": stats.limited.get(page, 0),
            }
        total = sum(len(times) for times in stats.latencies.values())
        table[f"{phase}/all"] = {
            "requests": total,
            "per_second": total / stats.elapsed if stats.elapsed else 0.0,
            "errors": sum(stats.errors.values()),
            "429": sum(stats.limited.values()),
            "participants": stats.participants,
            "sessions_done": stats.sessions_done,
            "seconds": stats.elapsed,
            "client_cpu_cores": stats.client_cpu / stats.elapsed if stats.elapsed else 0.0,
            "server_cpu_cores": stats.server_cpu / stats.elapsed if stats.elapsed else 0.0,
            # Less sensitive than req/s to what else the machine runs meanwhile.
            "server_cpu_ms_per_request": stats.server_cpu * 1000 / total if total else 0.0,
        }
    return table


def print_table(table: dict[str, dict]) -> None:
    print(
        f"  {'phase/page':<22}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'errors':>8}{'429':>6}"
    )
    for name, row in table.items():
        if name.endswith("/all"):
            print(
                f"  {name:<22}{row['requests']:>9}{row['per_second']:>9.1f}{'':>27}"
                f"{row['errors']:>8}{row['429']:>6}   CPU cores: gunicorn "
                f"{row['server_cpu_cores']:.2f}, client {row['client_cpu_cores']:.2f}; "
                f"gunicorn {row['server_cpu_ms_per_request']:.2f} CPU ms/request"
            )
            continue
        print(
            f"  {name:<22}{row['requests']:>9}{row['per_second']:>9.1f}{row['p50_ms']:>9.1f}"
            f"{row['p95_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['errors']:>8}{row['429']:>6}"
        )
    print("  (429: refused by a rate limit, retried after Retry-After; not a server error)")


# ------------------------------------------------------------------ databases and the server


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


class ConnectionSampler:
    """The server's connections to one PostgreSQL database, sampled while a phase runs."""

    def __init__(self, database: str) -> None:
        import psycopg

        self.database = database
        self.connection = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True)
        self.peaks: dict[str, tuple[int, int]] = {}

    def count(self) -> tuple[int, int]:
        """(connections, of which active) to the database, other than this process's."""
        row = self.connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity "
            "WHERE datname = %s",
            [self.database],
        ).fetchone()
        return int(row[0]), int(row[1])

    async def sample(self, phase: str, stop: asyncio.Event) -> None:
        peak = (0, 0)
        while not stop.is_set():
            total, active = await asyncio.to_thread(self.count)
            peak = (max(peak[0], total), max(peak[1], active))
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        self.peaks[phase] = peak


@contextmanager
def gunicorn(
    env: dict[str, str], workers: int, folder: Path, slug: str
) -> Iterator[tuple[str, int]]:
    """(base URL, master pid) of gunicorn serving the study, stopped afterwards."""
    port = _free_port()
    log = (folder / "gunicorn.log").open("w")
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "webapp.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--chdir={REPO}",
        "--log-level=warning",
    ]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base + f"/quiz/{slug}/", process, folder)
        yield base, process.pid
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


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _subprocess_json(env: dict[str, str], *arguments: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.load_quiz", *arguments],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if completed.returncode:
        raise SystemExit(f"{' '.join(arguments)} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_database(kind: str, args: argparse.Namespace) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"load-quiz-{kind}-"))
    try:
        with fresh_database(kind, folder) as (url, database):
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "benchmarks.load_settings",
                "PYTHONPATH": str(REPO),
                "DATABASE_URL": url,
                "VAR_DIR": str(folder),
                "MEDIA_ROOT": str(folder / "media"),
                "DEBUG": "0",
                "SECRET_KEY": secrets.token_urlsafe(50),
                "ALLOWED_HOSTS": "127.0.0.1",
                "HTTPS": "0",
                "CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR",
            }
            (folder / "staticfiles").mkdir()
            built = _subprocess_json(
                env, "--build", str(args.images), str(args.panel_size), str(args.rounds)
            )
            sampler = ConnectionSampler(database) if database else None
            acknowledged: dict[str, str] = {}
            with gunicorn(env, args.workers, folder, built["slug"]) as (base, server):
                print(
                    f"{kind}: gunicorn, {args.workers} sync workers, {base}; load average "
                    f"{_load()} on {os.cpu_count()} CPUs",
                    flush=True,
                )
                work = drive(base, server, built["slug"], built["bare_round"], args, acknowledged)
                results = asyncio.run(_sampled(work, sampler))
                print(f"  load average after the run: {_load()}")
                if sampler:
                    time.sleep(1.0)
                    sampler.peaks["after the load, server up"] = sampler.count()
            if sampler:
                time.sleep(0.5)
                sampler.peaks["after gunicorn stopped"] = sampler.count()
                sampler.connection.close()
            (folder / "acknowledged.json").write_text(json.dumps(acknowledged))
            check = _subprocess_json(env, "--verify", str(folder / "acknowledged.json"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    table = summarise(results)
    figures = {
        "table": table,
        "guesses": check,
        "connections": sampler.peaks if sampler else None,
        "errors": [s for stats in results.values() for s in stats.error_samples][:8],
    }
    ceiling = table.get("ceiling/ceiling", {}).get("per_second", 0.0)
    grid = table.get("grid/grid", {}).get("per_second", 0.0)
    figures["grid_share_of_ceiling"] = grid / ceiling if ceiling else float("nan")
    _report(kind, figures, args)
    return figures


async def _sampled(work: Awaitable[dict[str, Stats]], sampler: ConnectionSampler | None):
    if sampler is None:
        return await work
    stop = asyncio.Event()
    watcher = asyncio.create_task(sampler.sample("during the run (peak)", stop))
    try:
        return await work
    finally:
        stop.set()
        await watcher


def _report(kind: str, figures: dict, args: argparse.Namespace) -> None:
    print(f"\n{kind}: {args.participants} concurrent, {args.workers} gunicorn workers")
    print_table(figures["table"])
    share = figures["grid_share_of_ceiling"]
    print(f"  grid page req/s as a share of the ceiling's: {share:.0%} (goal: at least 50%)")
    table = figures["table"]
    cost = table["grid/all"]["server_cpu_ms_per_request"]
    bare = table["ceiling/all"]["server_cpu_ms_per_request"]
    if cost:
        print(f"  by gunicorn CPU per request, ceiling / grid: {bare / cost:.0%}")
    flow = {k: v for k, v in figures["table"].items() if k.startswith("participants/")}
    worst = max((v.get("p95_ms", 0.0), k) for k, v in flow.items() if "p95_ms" in v)
    print(f"  slowest p95 of the participants phase: {worst[0]:.1f} ms ({worst[1]}; goal < 100)")
    g = figures["guesses"]
    print(
        f"  guesses: {g['acknowledged']} acknowledged, {g['found']} found in the database, "
        f"{g['missing']} missing, {g['different_answer']} with another answer "
        f"({g['guesses_in_database']} guess rows in all)"
    )
    if figures["connections"] is not None:
        for when, (total, active) in figures["connections"].items():
            print(f"  PostgreSQL connections {when}: {total} ({active} active)")
    for sample in figures["errors"]:
        print(f"  error: {sample}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgres"])
    parser.add_argument("--participants", type=int, default=50, help="concurrent participants")
    parser.add_argument("--duration", type=float, default=60.0, help="participants phase, s")
    parser.add_argument(
        "--ceiling-duration", type=float, default=15.0, help="ceiling and grid phases, s each"
    )
    parser.add_argument("--blocks", type=int, default=3, help="alternating ceiling/grid blocks")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds, not reported")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--images", type=int, default=60, help="real and synthetic, each")
    parser.add_argument("--panel-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5, help="rounds per session")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, s")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    # Internal: the parts that need Django run in a subprocess with the database's settings.
    parser.add_argument("--build", nargs=3, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--verify", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        print(json.dumps(build_study(*args.build)))
        return
    if args.verify:
        print(json.dumps(verify_guesses(args.verify)))
        return

    figures = {}
    for kind in args.databases or ["sqlite", "postgres"]:
        if kind == "postgres" and not postgres_answers():
            print("postgres: no server answers at 127.0.0.1:5432; skipped")
            continue
        figures[kind] = run_database(kind, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
