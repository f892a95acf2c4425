"""Run the whole site on one machine: the Procfile's processes (gunicorn, three Celery workers
and Celery beat), stopped together.

Stopping gives each process one SIGTERM and SERVE_STOP_TIMEOUT seconds (default 60) to finish:
gunicorn completes the requests in flight, a Celery worker its warm shutdown (a training job
writes its checkpoint and hands the job back). Only then is anything still running killed.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

DEFAULT_STOP_TIMEOUT_S = 60


class Command(BaseCommand):
    help = (
        "Start the web server (gunicorn), the Celery workers (queues default, gpu and "
        "evaluation) and Celery beat; Ctrl-C stops all."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, host: str, port: int, **options) -> None:
        stop_timeout = _stop_timeout()
        broker = settings.REDIS_URL or f"embedded filesystem broker in {settings.BROKER_DIR}"
        processes = _start(commands(host, port))
        self.stdout.write(f"Broker: {broker}")
        self.stdout.write(
            self.style.SUCCESS(f"Real or Synthetic? is running at http://{host}:{port}/")
        )
        self.stdout.write(f"Staff pages: http://{host}:{port}/admin/  (Ctrl-C stops everything)")
        signals = 0

        def on_signal(*_: object) -> None:
            nonlocal signals
            signals += 1

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            while not signals:
                exited = [name for name, proc in processes.items() if proc.poll() is not None]
                if exited:
                    self.stderr.write(f"{', '.join(exited)} exited; stopping the rest.")
                    break
                time.sleep(0.5)
        finally:
            self.stdout.write(
                f"Stopping (waiting up to {stop_timeout:.0f} s for the workers to finish; "
                "Ctrl-C again stops at once)."
            )
            first = signals
            stop(processes, stop_timeout, force=lambda: signals > first, log=self.stderr.write)


def commands(host: str, port: int) -> dict[str, list[str]]:
    """The Procfile's processes, run by this interpreter (the virtualenv's gunicorn and celery)."""
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "webapp"]
    worker = [*celery, "worker", "--loglevel", "INFO"]
    config = str(settings.BASE_DIR / "gunicorn.conf.py")
    return {
        "web": [
            python,
            "-m",
            "gunicorn",
            "webapp.wsgi",
            "--config",
            config,
            "--bind",
            f"{host}:{port}",
        ],
        # Training holds a whole worker process, so light jobs (ingest) get one of their own, and
        # so do evaluations: a generation never waits behind one (settings.CELERY_TASK_ROUTES).
        "worker-default": [*worker, "-Q", "default", "-c", "1", "-n", "default@%h"],
        "worker-gpu": [*worker, "-Q", "gpu", "-c", "1", "-n", "gpu@%h"],
        "worker-evaluation": [*worker, "-Q", "evaluation", "-c", "1", "-n", "evaluation@%h"],
        "beat": [
            *celery,
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(settings.VAR_DIR / "celerybeat-schedule"),
        ],
    }


def _stop_timeout() -> float:
    raw = os.environ.get("SERVE_STOP_TIMEOUT", "").strip() or str(DEFAULT_STOP_TIMEOUT_S)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise CommandError(f"SERVE_STOP_TIMEOUT={raw!r}: expected a number of seconds (>= 0)")
    return value


def _start(commands: Mapping[str, list[str]], **options) -> dict[str, subprocess.Popen]:
    # Each in a session of its own: Ctrl-C in a terminal sends SIGINT to the whole foreground
    # process group, and a Celery worker that got that SIGINT and then our SIGTERM would take the
    # second signal as "cold shutdown now". Only this process hears the terminal; it signals once.
    return {
        name: subprocess.Popen(cmd, cwd=settings.BASE_DIR, start_new_session=True, **options)
        for name, cmd in commands.items()
    }


def stop(
    processes: Mapping[str, subprocess.Popen],
    timeout: float,
    force: Callable[[], bool] = lambda: False,
    log: Callable[[str], object] = print,
) -> None:
    """One SIGTERM to each process, up to `timeout` seconds for all to exit, then SIGKILL to the
    process groups of those left (a Celery worker's pool children with it). `force()` turning
    true (a second Ctrl-C) ends the wait early."""
    for proc in processes.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not force():
        if all(proc.poll() is not None for proc in processes.values()):
            return
        time.sleep(0.1)
    for name, proc in processes.items():
        if proc.poll() is None:
            log(f"{name} did not stop in time; killing it.")
            _kill_group(proc)
        proc.wait()


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # its own group: started with start_new_session
