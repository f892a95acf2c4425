"""Run the whole site on one machine: the web server and the Celery workers, stopped together."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start the web server and Celery workers (queues default and gpu); Ctrl-C stops all."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, host: str, port: int, **options) -> None:
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "webapp", "worker", "--loglevel", "INFO"]
        commands = {
            "web": [python, "manage.py", "runserver", "--noreload", f"{host}:{port}"],
            # Training holds a whole worker process, so light jobs (ingest) get one of their own.
            "worker-default": [*celery, "-Q", "default", "-c", "1", "-n", "default@%h"],
            "worker-gpu": [*celery, "-Q", "gpu", "-c", "1", "-n", "gpu@%h"],
        }
        broker = settings.REDIS_URL or f"embedded filesystem broker in {settings.BROKER_DIR}"
        processes = {
            name: subprocess.Popen(cmd, cwd=settings.BASE_DIR) for name, cmd in commands.items()
        }
        self.stdout.write(f"Broker: {broker}")
        self.stdout.write(
            self.style.SUCCESS(f"Real or Synthetic? is running at http://{host}:{port}/")
        )
        self.stdout.write(f"Staff pages: http://{host}:{port}/admin/  (Ctrl-C stops everything)")
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                exited = [name for name, proc in processes.items() if proc.poll() is not None]
                if exited:
                    self.stderr.write(f"{', '.join(exited)} exited; stopping the rest.")
                    break
                time.sleep(0.5)
        finally:
            _terminate(processes.values())


def _terminate(processes) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in processes:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
