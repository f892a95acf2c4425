"""`manage.py serve` runs the Procfile's processes and stops them gently: one SIGTERM each, time
to finish (a Celery worker's warm shutdown), and a kill only for what outlives
SERVE_STOP_TIMEOUT."""

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from quiz.management.commands.serve import _start, commands, stop
from tests.deploy.production import BASE_DIR, free_port, get

# A child that counts the SIGTERMs it gets in a file, then takes `delay` seconds to finish.
_SLOW_TO_STOP = """
import signal, sys, time
count, delay = sys.argv[1], float(sys.argv[2])
def on_term(*_):
    with open(count, "a") as f:
        f.write("TERM\\n")
    time.sleep(delay)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, lambda *_: open(count, "a").write("INT\\n"))
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""

_DEAF = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _started(processes: dict[str, subprocess.Popen]) -> None:
    for proc in processes.values():
        assert proc.stdout.readline().strip()


def test_each_child_gets_one_sigterm_and_the_time_it_needs(tmp_path):
    count = tmp_path / "signals"
    processes = _start(
        {"slow": [sys.executable, "-c", _SLOW_TO_STOP, str(count), "1.5"]}, stdout=subprocess.PIPE
    )
    _started(processes)
    stop(processes, timeout=20)
    assert processes["slow"].returncode == 0  # exited by itself, not killed
    assert count.read_text().split() == ["TERM"]


def test_a_child_that_outlives_the_timeout_is_killed_with_its_own_children(tmp_path):
    processes = _start({"deaf": [sys.executable, "-c", _DEAF]}, stdout=subprocess.PIPE)
    grandchild = int(processes["deaf"].stdout.readline())
    logged: list[str] = []
    stop(processes, timeout=0.5, log=logged.append)
    assert processes["deaf"].returncode == -signal.SIGKILL
    assert logged == ["deaf did not stop in time; killing it."]
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_a_malformed_stop_timeout_is_refused_before_anything_starts(monkeypatch):
    monkeypatch.setenv("SERVE_STOP_TIMEOUT", "a minute")
    with pytest.raises(CommandError, match="SERVE_STOP_TIMEOUT='a minute': expected a number"):
        call_command("serve")


def test_the_procfile_runs_the_same_processes_as_serve(settings):
    procfile = dict(
        line.split(":", 1) for line in (BASE_DIR / "Procfile").read_text().splitlines() if line
    )
    served = commands("127.0.0.1", 8000)
    assert procfile.keys() == served.keys()
    for name, line in procfile.items():
        words = shlex.split(line.replace("${VAR_DIR:-var}", str(settings.VAR_DIR)))
        # serve runs the same programs with this interpreter, and names gunicorn's bind itself.
        assert served[name][:3] == [sys.executable, "-m", words[0]]
        assert served[name][3 : 3 + len(words) - 1] == words[1:]


def test_ctrl_c_in_a_terminal_gives_every_process_a_warm_shutdown(tmp_path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}},
        "VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "WEB_CONCURRENCY": "1",
    }
    log = tmp_path / "serve.log"
    with open(log, "w+") as out:
        # In a process group of its own, as a shell runs a foreground job.
        serve = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_for(lambda: log.read_text().count("ready.") >= 3, log, "the three workers ready")
            _wait_for(lambda: "beat: Starting" in log.read_text(), log, "beat started")
            assert get(f"http://127.0.0.1:{port}/static/css/site.css")[0] == 200
            children = _children(serve.pid)
            assert len(children) == 5  # gunicorn, three Celery workers, beat

            os.killpg(serve.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
            assert serve.wait(timeout=90) == 0
        finally:
            if serve.poll() is None:
                os.killpg(serve.pid, signal.SIGKILL)
    text = log.read_text()
    # One signal each: a Celery worker that got SIGINT from the terminal and then SIGTERM would
    # log a cold shutdown (tasks abandoned) instead.
    assert text.count("Warm shutdown") == 3, text  # each Celery worker
    assert "Cold shutdown" not in text
    assert "did not stop in time" not in text
    assert "Shutting down: Master" in text  # gunicorn's graceful stop
    assert not any(_alive(pid) for pid in children)


def _wait_for(condition, log: Path, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f} s:\n{log.read_text()}")
        time.sleep(0.2)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found
