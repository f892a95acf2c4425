"""The figures of benchmarks/load_quiz.py and its printed report, per revision and side by side."""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path

from benchmarks.load_cpu import SATURATED
from benchmarks.load_participants import Stats
from benchmarks.load_servers import Server
from benchmarks.load_wrk import WRK_THREADS

PAGE_ORDER = ("ceiling", "start", "consent", "grid", "panel", "submit", "result", "done")


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


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


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


def _row(name: str, row: dict) -> str:
    return (
        f"  {name:<22}{row['requests']:>9}{row['per_second']:>9.1f}{row['p50_ms']:>9.1f}"
        f"{row['p95_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['errors']:>8}{row['429']:>6}"
    )


def compare(servers: list[Server], before: dict, after: dict) -> None:
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
