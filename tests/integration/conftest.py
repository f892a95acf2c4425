"""Real Celery worker processes for the integration tests, sharing this test run's database."""

import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from django.db import connection

from webapp.celery import app as celery_app


def _drop_celery_connections() -> None:
    # Celery caches its connection and producer pools; it resets them the same way after a fork.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def point_celery_at():
    """Re-points this process's Celery app at another broker for one test, then restores it."""
    saved = celery_app.conf.broker_url, celery_app.conf.broker_transport_options

    def point(url: str, transport_options: dict | None = None) -> None:
        _drop_celery_connections()
        celery_app.conf.broker_url = url
        celery_app.conf.broker_transport_options = transport_options or {}

    yield point
    _drop_celery_connections()
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = saved


@pytest.fixture
def start_worker(settings, tmp_path):
    """Starts `celery worker` on queues default and gpu with the given environment additions."""
    started: list[tuple[subprocess.Popen, object]] = []

    def start(env: dict[str, str]) -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(started)}.log", "w+")  # noqa: SIM115 closed below
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "webapp",
                "worker",
                "-Q",
                "default,gpu",
                "-c",
                "1",
                "--loglevel",
                "INFO",
                "-n",
                f"test-{os.getpid()}-{len(started)}@%h",
            ],
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DATABASE_URL": _test_database_url(),
                "MEDIA_ROOT": str(settings.MEDIA_ROOT),
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((process, log))
        return process

    yield start
    for process, log in started:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.seek(0)
        print(log.read()[-5000:])  # pytest shows this when the test failed
        log.close()


def _test_database_url() -> str:
    """This test run's database (pytest-django's test copy), as a URL for the worker."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(
    description: str, check: Callable[[], bool], worker: subprocess.Popen, timeout: float = 240
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if worker.poll() is not None:
            pytest.fail(f"the worker exited while waiting for {description}")
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {description}")


def refreshed(row):
    row.refresh_from_db()
    return row
