"""With DATABASE_URL on PostgreSQL each web worker draws from a bounded psycopg pool: a crowd of
concurrent requests is served without opening more than (workers x DB_POOL_MAX_SIZE) connections;
a request that waits DB_POOL_TIMEOUT for one in vain is answered 503 with Retry-After; the
database cache's counters stay exact there too.

Needs PostgreSQL at POSTGRES_TEST_URL (default postgres://postgres@127.0.0.1:5432/postgres, with
the right to create databases); skips when it does not answer. How the site tells pool exhaustion
from any other error is checked without a server too.
"""

import os
import secrets
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import OperationalError
from django.http import HttpResponse
from django.urls import get_resolver

from tests.deploy.production import BASE_DIR, VIA_TLS_PROXY, get, gunicorn, set_up
from webapp.errors import server_error

psycopg = pytest.importorskip("psycopg")
PoolTimeout = pytest.importorskip("psycopg_pool").PoolTimeout

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


def _waiting_on_a_lock(admin, name: str) -> int:
    return admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
        [name],
    ).fetchone()[0]


def test_a_request_that_finds_the_pool_exhausted_is_answered_503(prod_env, tmp_path, database_url):
    url, admin, name = database_url
    env = {
        **prod_env,
        "DATABASE_URL": url,
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
        "DB_POOL_MIN_SIZE": "1",
        "DB_POOL_MAX_SIZE": "1",
        "DB_POOL_TIMEOUT": "1",
    }
    set_up(env)
    log = tmp_path / "gunicorn.log"
    with gunicorn(env, log) as server, psycopg.connect(url) as locker:
        # The home page reads the studies: while this transaction holds their table, the first
        # request waits for it with the pool's only connection in hand.
        locker.execute("LOCK TABLE quiz_study IN ACCESS EXCLUSIVE MODE")
        with ThreadPoolExecutor(1) as first:
            holding = first.submit(get, f"{server}/", VIA_TLS_PROXY)
            deadline = time.monotonic() + 30
            while not _waiting_on_a_lock(admin, name):
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            status, headers, body = get(f"{server}/", VIA_TLS_PROXY)
            locker.rollback()  # the lock goes, and the first request is served after all
            assert holding.result()[0] == 200

    assert status == 503, body.decode()
    assert int(headers["Retry-After"]) >= 1
    assert "The site is busy" in body.decode()
    assert "Database connection pool exhausted, answered 503 to GET /" in log.read_text()


def _answer_to(exc: Exception, rf) -> HttpResponse:
    """What the site answers when a request raised `exc` (Django calls handler500 in its except)."""
    assert get_resolver().resolve_error_handler(500) is server_error
    try:
        raise exc
    except Exception:
        return server_error(rf.get("/quiz/some-study/"))


def test_pool_exhaustion_is_told_apart_from_any_other_error(rf, caplog):
    # Without a server: the error as Django raises it, psycopg_pool's timeout as its cause.
    try:
        raise PoolTimeout("couldn't get a connection after 1.00 sec")
    except PoolTimeout as timeout:
        wrapped = OperationalError(*timeout.args)
        wrapped.__cause__ = timeout
    busy = _answer_to(wrapped, rf)
    assert busy.status_code == 503
    assert busy["Retry-After"] == "5"
    assert "couldn't get a connection after 1.00 sec" in caplog.text

    other = _answer_to(OperationalError("server closed the connection unexpectedly"), rf)
    assert other.status_code == 500
    assert not other.has_header("Retry-After")


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
