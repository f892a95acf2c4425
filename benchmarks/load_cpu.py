"""CPU accounting of benchmarks/load_quiz.py: what the server, the client and the rest took.

The figures come from /proc and from getrusage of this process's children, in CPU seconds; a
client busier than SATURATED set the pace itself, so its figures are not the server's.
"""

from __future__ import annotations

import os
import resource
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

# A client thread or process busier than this set the pace itself: its figures are not the server's.
SATURATED = 0.9


def _children_cpu() -> float:
    """CPU seconds of this process's finished, waited-for children (wrk, client processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def server_cpu(master: int) -> float:
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


def machine_busy() -> float:
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
def cpu_of(cpu: Cpu, master: int) -> Iterator[None]:
    """Adds to ``cpu`` what gunicorn (``master``), this process's children and the machine took."""
    started = time.perf_counter()
    server, client, machine = server_cpu(master), _children_cpu(), machine_busy()
    yield
    cpu.seconds += time.perf_counter() - started
    cpu.server += server_cpu(master) - server
    cpu.client += _children_cpu() - client
    cpu.machine += machine_busy() - machine


# ------------------------------------------------------------------ what else the machine runs


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def busy_others() -> str:
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
