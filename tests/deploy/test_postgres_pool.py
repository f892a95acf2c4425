"""With DATABASE_URL on PostgreSQL each web worker draws from a bounded psycopg pool: a crowd of
concurrent requests is served without opening more than (workers x DB_POOL_MAX_SIZE) connections;
the database cache's counters stay exact there too.

Needs PostgreSQL at POSTGRES_TEST_URL (default postgres://postgres@127.0.0.1:5432/postgres, with
the right to create databases); skips when it does not answer.
"""

import os
import secrets
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.deploy.production import BASE_DIR, VIA_TLS_PROXY, get, gunicorn, set_up

psycopg = pytest.importorskip("psycopg")

ADMIN_URL = os.environ.get("POSTGRES_TEST_URL", "postgres://postgres@127.0.0.1:5432/postgres")
WORKERS, THREADS, POOL_MAX = 2, 8, 2
REQUESTS, CLIENTS = 300, 40


@pytest.fixture
def database_url():
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL does not answer at {ADMIN_URL}: {exc}")
    name = f"rs_pool_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", admin, name
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _connections(admin, name: str) -> int:
    return admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]
    ).fetchone()[0]


def test_many_concurrent_requests_stay_within_the_pool_bound(prod_env, tmp_path, database_url):
    url, admin, name = database_url
    env = {
        **prod_env,
        "DATABASE_URL": url,
        "WEB_CONCURRENCY": str(WORKERS),
        "WEB_THREADS": str(THREADS),  # more threads than connections: some wait for one
        "DB_POOL_MAX_SIZE": str(POOL_MAX),
    }
    set_up(env)
    assert _connections(admin, name) == 0  # the set-up commands closed theirs

    with gunicorn(env, tmp_path / "gunicorn.log") as server:
        seen: list[int] = []
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                seen.append(_connections(admin, name))
                done.wait(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            with ThreadPoolExecutor(CLIENTS) as clients:
                # The home page lists the published studies: one query per request.
                statuses = list(
                    clients.map(lambda _: get(f"{server}/", VIA_TLS_PROXY)[0], range(REQUESTS))
                )
        finally:
            done.set()
            watcher.join()
        after = _connections(admin, name)

    bound = WORKERS * POOL_MAX
    print(f"{REQUESTS} requests from {CLIENTS} clients: most connections seen {max(seen)}")
    assert statuses == [200] * REQUESTS
    assert 0 < max(seen) <= bound
    # The pool keeps its connections for the next requests instead of closing them.
    assert 0 < after <= bound


# Run with DATABASE_URL on PostgreSQL: threads increment one counter of the site's database cache.
_INCREMENTS = """
import threading, django
django.setup()
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
call_command("createcachetable")
cache.add("count", 0)
def count():
    for _ in range(25):
        cache.incr("count")
    connection.close()
threads = [threading.Thread(target=count) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(cache.get("count"))
"""


def test_the_database_cache_counts_simultaneous_increments_on_postgres(prod_env, database_url):
    url, _, _ = database_url
    result = subprocess.run(
        [sys.executable, "-c", _INCREMENTS],
        cwd=BASE_DIR,
        env={**prod_env, "DATABASE_URL": url, "DB_POOL_MAX_SIZE": "8"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200"]
