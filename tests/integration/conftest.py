"""Real Celery worker processes for the integration tests, sharing this test run's database."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection

from webapp.celery import app as celery_app


def _drop_celery_connections() -> None:
    # Celery caches its connection and producer pools; it resets them the same way after a fork.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def embedded_broker_options(var_dir: Path) -> dict:
    """kombu's filesystem transport under var_dir/broker, as settings.py configures it."""
    broker = var_dir / "broker"
    (broker / "queue").mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(broker / "queue"),
        "data_folder_out": str(broker / "queue"),
        "processed_folder": str(broker / "processed"),
        "control_folder": str(broker / "control"),
        "store_processed": False,
    }


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


# Short leases and intervals, so that a lost worker is noticed within seconds in a test.
# The tests' own Redis database, emptied by each test that uses it (.ci/run starts Redis).
REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


def empty_test_redis() -> None:
    """Empty the tests' Redis database, or fail the test saying that Redis is not running."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.ConnectionError:
        pytest.fail(f"Redis does not answer at {REDIS_TEST_URL}; start it (see .ci/run)")


FAST_JOBS_ENV = {
    "JOB_LEASE_SECONDS": "6",
    "JOB_HEARTBEAT_SECONDS": "1",
    "JOB_RESEND_SECONDS": "4",
    "JOB_RECONCILE_SECONDS": "2",
}


@pytest.fixture
def start_worker(settings, tmp_path):
    """Starts Celery processes sharing this test run's database and media.

    start(env) starts `celery worker` on queues default and gpu (or `queues`) under its own node
    name; start(env, beat=True) starts `celery beat`. Each runs in its own session, so a test can
    kill a worker with its pool processes (os.killpg) as a crashed machine would.
    """
    started: list[tuple[subprocess.Popen, object]] = []

    def start(
        env: dict[str, str], *, name: str | None = None, queues: str = "default,gpu", beat=False
    ) -> subprocess.Popen:
        index = len(started)
        log = open(tmp_path / f"celery-{index}.log", "w+")  # noqa: SIM115 closed below
        if beat:
            command = ["beat", "--schedule", str(tmp_path / f"beat-{index}")]
        else:
            node = name or f"test-{os.getpid()}-{index}"
            command = ["worker", "-Q", queues, "-c", "1", "-n", f"{node}@%h"]
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "webapp", *command, "--loglevel", "INFO"],
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DATABASE_URL": _test_database_url(),
                "MEDIA_ROOT": str(settings.MEDIA_ROOT),
                "SCRATCH_DIR": str(tmp_path / "scratch"),
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log_path = Path(log.name)
        started.append((process, log))
        return process

    yield start
    for process, _ in started:
        process.terminate()  # a warm shutdown: running jobs hand themselves back
    for process, log in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill_group(process)
        log.seek(0)
        print(f"--- celery process {process.args[5:]} ---")
        print(log.read()[-5000:])  # pytest shows this when the test failed
        log.close()


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a Celery worker and its pool processes at once, as a crash of its machine would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


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


def wait_until_ready(worker: subprocess.Popen, timeout: float = 120) -> None:
    """Until the worker has connected to its broker and consumes."""
    wait_for(
        "the worker to start", lambda: " ready." in worker.log_path.read_text(), worker, timeout
    )


def bands_dataset(name: str = "bands", count: int = 8):
    """A small dataset of 40 x 40 images, each a bright band at a random depth, split."""
    import numpy as np
    from django.core.files.base import ContentFile

    from quiz.imaging import encode_png, pixel_sha256
    from quiz.models import Dataset, Image, ImageKind

    dataset = Dataset.objects.create(name=name)
    rng = np.random.default_rng(0)
    for _ in range(count):
        pixels = rng.integers(0, 80, size=(40, 40), dtype=np.uint8)
        pixels[rng.integers(5, 30) :][:4] = 230
        Image.objects.create(
            kind=ImageKind.REAL,
            dataset=dataset,
            width=40,
            height=40,
            sha256=pixel_sha256(pixels),
            file=ContentFile(encode_png(pixels), name="image.png"),
        )
    dataset.apply_split()
    return dataset
