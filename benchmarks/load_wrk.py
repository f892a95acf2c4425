"""wrk, the C load generator of benchmarks/load_quiz.py, and its Lua script.

Every request carries the next consented participant's cookies, so that every request reads
another participant's session and round. wrk takes a small part of one core per thread, so the
server, not the client, sets the pace; measure() says how busy wrk's threads were.
"""

from __future__ import annotations

import json
import statistics
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.load_cpu import Cpu, cpu_of

WRK_THREADS = 2

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


@dataclass
class WrkClient:
    """wrk aimed at one server: its consented participants' cookies and the script, in files."""

    cookies: Path
    script: Path
    connections: int

    @classmethod
    def write(cls, folder: Path, cookie_headers: list[str]) -> WrkClient:
        """One connection per participant (a line of ``cookie_headers``) and wrk's script."""
        cookies, script = folder / "cookies.txt", folder / "cookies.lua"
        cookies.write_text("\n".join(cookie_headers) + "\n")
        script.write_text(WRK_SCRIPT)
        return cls(cookies, script, len(cookie_headers))

    @property
    def threads(self) -> int:
        return min(WRK_THREADS, self.connections)

    def measure(self, runs: WrkRuns, url: str, master: int, seconds: float, phase: str) -> None:
        """One block of ``seconds`` on ``url``, added to ``runs`` with gunicorn's CPU and wrk's."""
        cpu = Cpu()
        with cpu_of(cpu, master):
            figures = self._run(url, seconds, phase)
        cpu.client_busiest = cpu.client / (self.threads * cpu.seconds) if cpu.seconds else 0.0
        runs.cpu.add(cpu)
        runs.requests += figures["requests"]
        runs.seconds += figures["duration_us"] / 1e6
        runs.p50_ms.append(figures["p50_us"] / 1000)
        runs.p95_ms.append(figures["p95_us"] / 1000)
        runs.p99_ms.append(figures["p99_us"] / 1000)
        for kind in ("status", "connect", "read", "write"):
            runs.errors[kind] += figures[f"{kind}_errors"]
        runs.errors["timeout"] += figures["timeouts"]

    def _run(self, url: str, seconds: float, phase: str) -> dict:
        command = ["wrk", f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds:g}s"]
        command += ["--timeout", "30s", "-s", str(self.script), url, "--", str(self.cookies), phase]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode:
            raise SystemExit(f"wrk failed: {completed.stderr.strip() or completed.stdout[-2000:]}")
        return json.loads(completed.stdout.strip().splitlines()[-1])
