"""Load on the quiz: wrk against gunicorn with the production settings, SQLite and PostgreSQL.

Prints figures, asserts nothing. For each database it builds a throwaway published study in a
fresh database (a SQLite file in a temporary folder; a temporary PostgreSQL database on
127.0.0.1:5432, user postgres, dropped afterwards) from synthetic pixel images rendered to
panels by the project's own functions, starts gunicorn on a free loopback port with the
production settings (DEBUG=0, a random SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, HTTPS=0) and the
tree's own gunicorn.conf.py (gthread; WEB_CONCURRENCY workers × WEB_THREADS threads, 2 × 4 unless
set), and measures with the same server:

1. ceiling: wrk GETs a bare Django view, a two-byte response under the site's middleware, no
   query, no session, no template (benchmarks/load_urls.py, not in the product's URLs; gunicorn
   runs with DJANGO_SETTINGS_MODULE=benchmarks.load_settings, which changes only ROOT_URLCONF);
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

Its parts, beside it in benchmarks/: load_study.py builds the study and looks up the guesses, run
in the tree under test; load_servers.py gives each revision its tree, database and gunicorn;
load_wrk.py drives wrk with its Lua script; load_participants.py is the simulated participants,
run as the client processes; load_cpu.py accounts for the CPU; load_report.py makes the figures
and prints them.

Needs wrk (Debian's `wrk` package) on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.load_cpu import Cpu, busy_others, load_average, machine_busy, server_cpu
from benchmarks.load_participants import Stats, consented_participants
from benchmarks.load_report import compare, figures_of, print_profile, read_profiles, report
from benchmarks.load_servers import (
    REPO,
    ConnectionSampler,
    Server,
    baseline_tree,
    fresh_database,
    gunicorn,
    postgres_answers,
    run_study_script,
    short_revision,
    tree_env,
)
from benchmarks.load_wrk import WrkClient, WrkRuns

# Runs one client process of the participants phase (its docstring says how).
PARTICIPANTS_SCRIPT = Path(__file__).resolve().with_name("load_participants.py")


# ------------------------------------------------------------------ the run


def run_database(kind: str, trees: list[tuple[str, Path]], args: argparse.Namespace) -> dict:
    with ExitStack() as stack:
        servers = []
        for name, tree in trees:
            folder = Path(tempfile.mkdtemp(prefix=f"load-quiz-{kind}-"))
            stack.callback(shutil.rmtree, folder, True)
            url, database = stack.enter_context(fresh_database(kind, folder))
            server = Server(name, tree, folder, tree_env(tree, folder, url, args.profile))
            (folder / "staticfiles").mkdir()
            (folder / "profile").mkdir()
            built = run_study_script(
                server, "--build", str(args.images), str(args.panel_size), str(args.rounds)
            )
            server.slug = built["slug"]
            if database:
                server.sampler = stack.enter_context(ConnectionSampler(database))
            servers.append(server)
        with ExitStack() as running:
            for server in servers:
                running.enter_context(gunicorn(server))
                participants = consented_participants(server.base, server.slug, args.connections, 0)
                server.wrk_client = WrkClient.write(server.folder, participants)
            print(
                f"{kind}: {', '.join(s.name for s in servers)}; load average {load_average()} on "
                f"{os.cpu_count()} CPUs; busiest other processes (cores): {busy_others()}",
                flush=True,
            )
            for server in servers:  # warm-up, not reported
                run_participants(server, 10, args.client_processes, 3, 900_000)
                for page in ("ceiling", "grid"):
                    _measure(WrkRuns(), server, page, 2, "warm-up")
            _alternate(servers, args)
            print(f"  load average after the run: {load_average()}", flush=True)
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
            figures["guesses"] = run_study_script(server, "--verify", str(acknowledged))
            if args.profile:
                figures["profile"] = read_profiles(server.folder / "profile")
            results[server.name] = figures
    for server in servers:
        report(kind, server, results[server.name], args)
        if args.profile:
            print_profile(results[server.name]["profile"])
    if len(servers) == 2:
        compare(servers, *(results[s.name] for s in servers))
    return results


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
                _measure(server.wrk[page], server, page, args.block, page)
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


def _measure(runs: WrkRuns, server: Server, page: str, seconds: float, phase: str) -> None:
    if server.wrk_client is None:
        raise RuntimeError(f"{server.name}: wrk's participants are not ready")
    server.wrk_client.measure(runs, _url(server, page), server.master, seconds, phase)


def _url(server: Server, page: str) -> str:
    if page == "ceiling":
        return f"{server.base}/bench/bare/"
    return f"{server.base}/quiz/{server.slug}/round/"


def _sample(server: Server, when: str, peak: bool = True) -> None:
    if server.sampler is None:
        return
    count = server.sampler.count()
    if peak:
        server.sampler.peak = tuple(map(max, server.sampler.peak, count))
        count = server.sampler.peak
    server.connection_peaks[when] = count


def run_participants(
    server: Server, participants: int, processes: int, seconds: float, first: int
) -> tuple[Stats, dict[str, str], Cpu]:
    """Whole sessions for ``seconds`` in client processes: their figures, guesses and CPU."""
    shares = [participants // processes + (i < participants % processes) for i in range(processes)]
    cpu = Cpu()
    started = time.perf_counter()
    gunicorn_cpu, machine = server_cpu(server.master), machine_busy()
    children = []
    for index, share in enumerate(shares):
        command = [sys.executable, str(PARTICIPANTS_SCRIPT), server.base, server.slug]
        command += [str(share), str(seconds), str(first + index * 100_000)]
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
    cpu.server = server_cpu(server.master) - gunicorn_cpu
    cpu.machine = machine_busy() - machine
    return stats, acknowledged, cpu


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
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    figures = {}
    with ExitStack() as stack:
        trees = []
        if args.baseline:
            path = stack.enter_context(baseline_tree(args.baseline))
            trees.append((f"baseline {short_revision(args.baseline)}", path))
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
