"""The site as production runs it: fresh processes in a production environment (the prod_env
fixture), set up as `make setup` does, served by gunicorn with gunicorn.conf.py."""

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
# The proxy's header for a request it received over TLS (docs/deployment.md).
VIA_TLS_PROXY = {"X-Forwarded-Proto": "https"}


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=check,
    )


def set_up(env: dict[str, str]) -> None:
    """What `make setup` runs before the site starts (less the staff account)."""
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(env: dict[str, str], log: Path) -> Iterator[str]:
    """gunicorn on a free loopback port with the repository's gunicorn.conf.py; yields its URL."""
    port = free_port()
    with open(log, "w+") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "webapp.wsgi", "--bind", f"127.0.0.1:{port}"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_listening(process, url, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_listening(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited ({process.returncode}):\n{log.read_text()}")
        try:
            get(f"{url}/static/css/site.css")
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer within 60 s:\n{log.read_text()}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET, redirects not followed: (status, headers, body)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
