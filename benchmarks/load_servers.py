"""The servers of benchmarks/load_quiz.py: a fresh database, the tree under test and its gunicorn.

Each revision under test is a Server: its tree (this one, or --baseline's files from git
archive), its own database (a SQLite file, or a temporary PostgreSQL database dropped
afterwards) and gunicorn run with that tree's gunicorn.conf.py and the production settings.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.load_cpu import Cpu
from benchmarks.load_participants import Stats
from benchmarks.load_wrk import WrkClient, WrkRuns

REPO = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
# Builds the study and checks the guesses inside the tree under test (its docstring says how).
STUDY_SCRIPT = Path(__file__).resolve().with_name("load_study.py")


@dataclass
class Server:
    """One revision under test: its database, its gunicorn, its participants for wrk."""

    name: str
    tree: Path
    folder: Path
    env: dict[str, str]
    slug: str = ""
    base: str = ""
    master: int = 0
    wrk_client: WrkClient | None = None
    sampler: ConnectionSampler | None = None
    wrk: dict[str, WrkRuns] = field(
        default_factory=lambda: {"ceiling": WrkRuns(), "grid": WrkRuns()}
    )
    sessions: Stats = field(default_factory=Stats)
    sessions_cpu: Cpu = field(default_factory=Cpu)
    acknowledged: dict[str, str] = field(default_factory=dict)
    connection_peaks: dict[str, tuple[int, int]] = field(default_factory=dict)


def tree_env(tree: Path, folder: Path, database_url: str, profile: bool) -> dict[str, str]:
    """The caller's environment with the production settings, the tree under test on PYTHONPATH."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": f"benchmarks.{'profile' if profile else 'load'}_settings",
        "PROFILE_DIR": str(folder / "profile"),
        "PYTHONPATH": str(tree),
        "DATABASE_URL": database_url,
        "VAR_DIR": str(folder),
        "MEDIA_ROOT": str(folder / "media"),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "HTTPS": "0",
        "CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR",
    }


def run_study_script(server: Server, *arguments: str) -> dict:
    """This tree's benchmarks/load_study.py, run in the server's tree and database: its JSON.

    Run by path with cwd and PYTHONPATH the server's tree, so that quiz and webapp are that
    tree's (a --baseline revision's too) while the benchmark's own code is this tree's.
    """
    completed = subprocess.run(
        [sys.executable, str(STUDY_SCRIPT), *arguments],
        env=server.env,
        cwd=server.tree,
        capture_output=True,
        text=True,
    )
    if completed.returncode:
        raise SystemExit(f"{' '.join(arguments)} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


@contextmanager
def gunicorn(server: Server) -> Iterator[None]:
    """Runs the tree's gunicorn (its gunicorn.conf.py) for the study, stopped afterwards."""
    port = _free_port()
    log = (server.folder / "gunicorn.log").open("w")
    command = [sys.executable, "-m", "gunicorn", "webapp.wsgi:application"]
    command += ["-c", str(server.tree / "gunicorn.conf.py"), f"--bind=127.0.0.1:{port}"]
    process = subprocess.Popen(
        command, env=server.env, cwd=server.tree, stdout=log, stderr=subprocess.STDOUT
    )
    server.base, server.master = f"http://127.0.0.1:{port}", process.pid
    try:
        _wait_until_serving(server.base + f"/quiz/{server.slug}/", process, server.folder)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_serving(url: str, process: subprocess.Popen, folder: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{(folder / 'gunicorn.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer {url} within 60 s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------ databases


def postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[tuple[str, str]]:
    """(DATABASE_URL, database name) of an empty database, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'db.sqlite3'}", ""
        return
    import psycopg

    name = f"load_quiz_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ConnectionSampler:
    """The server's connections to one PostgreSQL database, sampled while a phase runs."""

    def __init__(self, database: str) -> None:
        import psycopg

        self.database = database
        self.connection = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True)
        self.peak = (0, 0)

    def count(self) -> tuple[int, int]:
        """(connections, of which active) to the database, other than this process's."""
        row = self.connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity "
            "WHERE datname = %s",
            [self.database],
        ).fetchone()
        return int(row[0]), int(row[1])

    def __enter__(self) -> ConnectionSampler:
        return self

    def __exit__(self, *_) -> None:
        self.connection.close()


# ------------------------------------------------------------------ the baseline revision


@contextmanager
def baseline_tree(revision: str) -> Iterator[Path]:
    """The files of ``revision`` in a temporary folder, with this tree's load_settings/load_urls."""
    archived = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision], capture_output=True
    )
    if archived.returncode:
        raise SystemExit(f"--baseline {revision}: {archived.stderr.decode().strip()}")
    folder = Path(tempfile.mkdtemp(prefix="load-quiz-baseline-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(archived.stdout)) as archive:
            archive.extractall(folder, filter="data")
        for name in (
            "load_settings.py",
            "load_urls.py",
            "profile_settings.py",
            "request_profile.py",
        ):
            shutil.copy(REPO / "benchmarks" / name, folder / "benchmarks" / name)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def short_revision(revision: str) -> str:
    described = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", revision], capture_output=True, text=True
    )
    return described.stdout.strip() or revision
